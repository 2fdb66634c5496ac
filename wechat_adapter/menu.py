"""The 公众号 custom menu: load menu.yml, check it against WeChat's limits, publish it, and
map menu click keys to Rasa intents."""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

MENU_FILE = Path(__file__).with_name("menu.yml")

MAX_TOP_BUTTONS = 3
MAX_SUB_BUTTONS = 5
# WeChat's API limits are in bytes; its client truncates with "..." past a display width
# (4 Chinese characters at the top level, 7 in sub-menus), which we treat as an error too.
TOP_NAME_BYTES, TOP_NAME_WIDTH = 16, 8
SUB_NAME_BYTES, SUB_NAME_WIDTH = 60, 14
KEY_BYTES = 128
URL_BYTES = 1024

EVENT_TYPES = {
    "click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
    "pic_weixin", "location_select",
}
OTHER_TYPES = {"view", "miniprogram", "media_id", "view_limited", "article_id", "article_view_limited"}
KNOWN_FIELDS = {"type", "name", "key", "url", "media_id", "appid", "pagepath", "article_id", "sub_button", "intent"}


class MenuError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("menu.yml does not fit WeChat's limits:\n  - " + "\n  - ".join(problems))
        self.problems = problems


def display_width(text: str) -> int:
    """Chinese (wide) characters count 2, others 1."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def load_menu(path: Path | str = MENU_FILE) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _check_leaf(button: dict, where: str, problems: list[str], keys: set[str]) -> None:
    kind = button.get("type")
    if kind not in EVENT_TYPES | OTHER_TYPES:
        problems.append(f"{where}: unknown or missing type {kind!r}")
        return
    if kind in EVENT_TYPES:
        key = str(button.get("key") or "")
        if not key:
            problems.append(f"{where}: type {kind} needs a key")
        elif len(key.encode("utf-8")) > KEY_BYTES:
            problems.append(f"{where}: key longer than {KEY_BYTES} bytes")
        elif key in keys:
            problems.append(f"{where}: duplicate key {key}")
        keys.add(key)
        if kind == "click" and not str(button.get("intent") or "").startswith("/"):
            problems.append(f"{where}: a click button needs an intent like /ask_policy")
    if kind in ("view", "miniprogram"):
        url = str(button.get("url") or "")
        if not url.startswith(("http://", "https://")):
            problems.append(f"{where}: type {kind} needs an http(s) url")
        elif len(url.encode("utf-8")) > URL_BYTES:
            problems.append(f"{where}: url longer than {URL_BYTES} bytes")
    if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
        problems.append(f"{where}: miniprogram needs appid and pagepath")
    if kind in ("media_id", "view_limited") and not button.get("media_id"):
        problems.append(f"{where}: type {kind} needs media_id")
    if kind in ("article_id", "article_view_limited") and not button.get("article_id"):
        problems.append(f"{where}: type {kind} needs article_id")


def _check_name(button: dict, where: str, max_bytes: int, max_width: int, problems: list[str]) -> None:
    name = str(button.get("name") or "")
    if not name.strip():
        problems.append(f"{where}: name is empty")
    elif len(name.encode("utf-8")) > max_bytes:
        problems.append(f"{where}: name {name!r} is over {max_bytes} bytes")
    elif display_width(name) > max_width:
        problems.append(f"{where}: name {name!r} is too wide for the WeChat menu ({max_width // 2} Chinese characters)")


def _is_button(button: Any, where: str, problems: list[str]) -> bool:
    """A mapping with only known fields (each unknown one is reported); False if not a mapping."""
    if not isinstance(button, dict):
        problems.append(f"{where}: must be a mapping")
        return False
    for field in set(button) - KNOWN_FIELDS:
        problems.append(f"{where}: unknown field {field!r}")
    return True


def validate_menu(menu: Any) -> None:
    """Raise MenuError listing every problem; return quietly when WeChat will accept it."""
    problems: list[str] = []
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not buttons:
        raise MenuError(["top level must be a mapping with a non-empty 'button' list"])
    if len(buttons) > MAX_TOP_BUTTONS:
        problems.append(f"{len(buttons)} top-level buttons (WeChat allows {MAX_TOP_BUTTONS})")
    keys: set[str] = set()
    for index, button in enumerate(buttons, start=1):
        where = f"button {index}"
        if not _is_button(button, where, problems):
            continue
        _check_name(button, where, TOP_NAME_BYTES, TOP_NAME_WIDTH, problems)
        subs = button.get("sub_button")
        if subs is None:
            _check_leaf(button, where, problems, keys)
            continue
        if button.get("type"):
            problems.append(f"{where}: a button with sub_button must not have a type")
        if not isinstance(subs, list) or not subs:
            problems.append(f"{where}: sub_button must be a non-empty list")
            continue
        if len(subs) > MAX_SUB_BUTTONS:
            problems.append(f"{where}: {len(subs)} sub-buttons (WeChat allows {MAX_SUB_BUTTONS})")
        for sub_index, sub in enumerate(subs, start=1):
            sub_where = f"{where}.{sub_index}"
            if not _is_button(sub, sub_where, problems):
                continue
            if "sub_button" in sub:
                problems.append(f"{sub_where}: WeChat menus have only two levels")
            _check_name(sub, sub_where, SUB_NAME_BYTES, SUB_NAME_WIDTH, problems)
            _check_leaf(sub, sub_where, problems, keys)
    if problems:
        raise MenuError(problems)


def _leaves(menu: dict):
    for button in menu.get("button") or []:
        if button.get("sub_button"):
            yield from button["sub_button"]
        else:
            yield button


def click_intents(menu: dict) -> dict[str, str]:
    """{"POLICY_QA": "/ask_policy", ...} for every click button."""
    return {str(b["key"]): str(b["intent"]) for b in _leaves(menu) if b.get("type") == "click" and b.get("intent")}


@lru_cache(maxsize=4)
def default_click_intents(path: str = str(MENU_FILE)) -> dict[str, str]:
    return click_intents(load_menu(path))


def wechat_payload(menu: dict) -> dict:
    """The JSON body of cgi-bin/menu/create: our `intent` fields removed."""

    def strip(button: dict) -> dict:
        clean = {k: v for k, v in button.items() if k != "intent"}
        if "sub_button" in clean:
            clean["sub_button"] = [strip(sub) for sub in clean["sub_button"]]
        return clean

    return {"button": [strip(button) for button in menu["button"]]}


async def push_menu(api, menu: dict) -> dict:
    validate_menu(menu)
    return await api.create_menu(wechat_payload(menu))
