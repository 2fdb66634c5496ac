"""The console in real headless Chromium (Debian chromium + chromium-driver through Selenium),
beside the real Rasa, action server and console (live_stack, live_console): a staff member logs
in; a veteran's message typed in /chat arrives in the conversation list without a reload; the
staff member takes the conversation over, replies (the reply shows in the veteran's page), the
bot stays silent meanwhile, and hands it back (the bot answers again); a booking and an appeal are
made for a caller on /ask and the appeal is moved through its states on /appeals. Screenshots of
the main pages go to $VETBOT_DATA_DIR/screenshots/ (their paths are printed)."""
from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.support.browser import (BrowserUnavailable, add_staff, console_errors, ensure_browser, screenshot,
                                   start_driver, wait_for, wait_for_text)

pytestmark = pytest.mark.stack

PASSWORD = "Browser-pass-2026!"
STAFF_NAME = "王接线"
CALLER_ID = "330482195803154018"  # valid check digit: the booking service checks it
CALLER_PHONE = "13857312469"
LIVE_WITHIN = 5.0  # the issue promises 2 s; a slow shared machine gets some slack, the time is printed
QUIET_FOR = 8.0  # how long the bot must stay silent after a message while staff hold the conversation


def by_css(css):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, css


def find(driver, css):
    return driver.find_element(*by_css(css))


def visible(css):
    def condition(driver):
        elements = [e for e in driver.find_elements(*by_css(css)) if e.is_displayed()]
        return elements[0] if elements else False
    return condition


def click(driver, css, timeout: float = 15):
    """Clicks the first visible match; looked up again if the page re-rendered it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(3):
        element = wait_for(driver, visible(css), timeout, f"{css} to click")
        try:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()
            return element
        except StaleElementReferenceException:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def type_into(driver, css, text: str):
    """Types into the first visible match; typed again if a live update re-rendered it meanwhile
    (the takeover panel is redrawn when the conversation's state changes)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(3):
        element = wait_for(driver, visible(css), 15, f"{css} to type into")
        try:
            element.clear()
            element.send_keys(text)
            if element.get_attribute("value") == text:
                return element
        except StaleElementReferenceException:
            if attempt == 2:
                raise
    raise AssertionError(f"{css} kept losing what was typed")


def forget_page_errors(*drivers) -> None:
    """Reading the browser's log empties it: what came before this test is not its fault."""
    for driver in drivers:
        console_errors(driver)


def page_errors(driver) -> list[str]:
    """Uncaught script errors and server errors of the page's own requests (a missing favicon is neither)."""
    return [e for e in console_errors(driver)
            if "favicon" not in e and ("Uncaught" in e or "status of 5" in e)]


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browsers():
    """Starts headless Chromium windows on demand and closes them all at the end."""
    try:
        ensure_browser()
    except BrowserUnavailable as reason:
        pytest.skip(f"no browser for the console tests: apt cannot install chromium here ({reason})")
    drivers = []

    def start(**size):
        driver = start_driver(**size)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


@pytest.fixture(scope="module")
def console(live_stack, live_console):
    """The live console's URL and an admin account made with `vetbot users add --password-stdin`."""
    username = f"browser{uuid.uuid4().hex[:6]}"
    add_staff(live_stack[1].env, username, PASSWORD, role="admin", display_name=STAFF_NAME)
    return live_console, username


@pytest.fixture(scope="module")
def staff(browsers, console):
    """A console window logged in through the login page."""
    url, username = console
    driver = browsers()
    log_in(driver, url, username)
    return driver


def log_in(driver, url: str, username: str) -> None:
    driver.get(f"{url}/login")
    type_into(driver, "#username", username)
    type_into(driver, "#password", PASSWORD)
    click(driver, "#login-button")
    wait_for(driver, lambda d: not d.current_url.rstrip("/").endswith("/login"), 15, "leaving the login page")


# --- chat helpers ------------------------------------------------------------------------------------

def chat_bubbles(driver, kind: str) -> list[str]:
    return [e.text for e in driver.find_elements(*by_css(f"#log .msg.{kind} .bubble"))]


def chat_say(driver, text: str) -> None:
    wait_for(driver, lambda d: find(d, "#send").is_enabled(), 30, "the web chat to connect")
    type_into(driver, "#message", text)
    click(driver, "#send")


def wait_for_bot_reply(driver, bots_before: int, timeout: float = 40) -> str:
    wait_for(driver, lambda d: len(chat_bubbles(d, "bot")) > bots_before, timeout, "a bot reply in /chat")
    return chat_bubbles(driver, "bot")[-1]


# --- the tests ---------------------------------------------------------------------------------------

def test_login_refuses_a_wrong_password_and_lets_the_right_one_in(browsers, console):
    url, username = console
    driver = browsers()
    driver.get(f"{url}/bookings")  # not logged in: sent to the login page, to come back after
    wait_for(driver, lambda d: "/login" in d.current_url, 15, "redirect to /login")
    screenshot(driver, "01-login")
    type_into(driver, "#username", username)
    type_into(driver, "#password", "not-the-password")
    click(driver, "#login-button")
    wait_for_text(driver, "账号或密码不对", css="#login-error")
    type_into(driver, "#password", PASSWORD)
    click(driver, "#login-button")
    wait_for(driver, lambda d: d.current_url.endswith("/bookings"), 15, "back on /bookings after logging in")
    wait_for_text(driver, STAFF_NAME)  # the shell shows who is logged in


def test_a_chat_arrives_live_is_taken_over_answered_and_handed_back(browsers, console, staff):
    url, _ = console
    forget_page_errors(staff)
    marker = f"浏览器测试{uuid.uuid4().hex[:6]}"
    staff.get(f"{url}/")
    wait_for(staff, lambda d: d.execute_script("return document.readyState") == "complete", 15, "the list page")
    staff.execute_script("window.__sameDocument = true")  # gone if the page reloads

    veteran = browsers(width=412, height=860)  # a phone-sized window
    veteran.get(f"{url}/chat")
    wait_for(veteran, lambda d: find(d, "#send").is_enabled(), 30, "the web chat to connect")
    # The veteran's conversation is its socket.io session (the page keeps its id for reloads).
    sender_id = veteran.execute_script("return localStorage.getItem('vetbot.chat.session')")
    assert sender_id, "the web chat has no session id"
    row_css = f'#conversation-list li[data-sender-id="{sender_id}"]'
    bots = len(chat_bubbles(veteran, "bot"))
    sent = time.monotonic()
    chat_say(veteran, f"你好，{marker}")
    wait_for(staff, visible(row_css), 30, "the new conversation in the list")
    waited = time.monotonic() - sent
    print(f"live: the chat's conversation reached the list {waited:.2f} s after the message was sent")
    assert staff.execute_script("return window.__sameDocument === true"), "the list page reloaded"
    assert waited < LIVE_WITHIN, f"the conversation took {waited:.1f} s to reach the list"
    wait_for_bot_reply(veteran, bots)
    screenshot(staff, "02-conversations")
    screenshot(veteran, "04-chat")

    # Open it: the transcript (the veteran's words in it) with the takeover panel.
    click(staff, row_css)
    wait_for_text(staff, marker, timeout=15, css="#transcript")
    click(staff, "#takeover-take", timeout=20)
    wait_for(staff, visible("#takeover-release"), 20, "the conversation to be held (交还机器人 shown)")

    # The reply reaches the veteran's page, with the staff member's name.
    reply = f"您好，我是{STAFF_NAME}，这就帮您查（{marker}）"
    type_into(staff, "#takeover-text", reply)
    click(staff, "#takeover-send")
    wait_for(veteran, lambda d: any(marker in t for t in chat_bubbles(d, "staff")), 20, "the staff reply in /chat")
    assert STAFF_NAME in find(veteran, "#log .msg.staff:last-of-type").text
    wait_for_text(staff, reply, timeout=10, css="#transcript")  # and it is in the transcript

    # While held, the bot stays silent; the veteran's words still reach the transcript.
    bots = len(chat_bubbles(veteran, "bot"))
    held_marker = f"人工还在吗{uuid.uuid4().hex[:4]}"
    chat_say(veteran, held_marker)
    wait_for_text(staff, held_marker, timeout=15, css="#transcript")
    time.sleep(QUIET_FOR)
    assert chat_bubbles(veteran, "bot")[bots:] == [], "the bot answered while staff held the conversation"
    screenshot(staff, "03-transcript")

    # Handed back: a short note to the veteran, then the bot answers again.
    click(staff, "#takeover-release")
    wait_for(staff, visible("#takeover-take"), 20, "the conversation back with the bot (接管 shown)")
    wait_for(veteran, lambda d: len(chat_bubbles(d, "bot")) + len(chat_bubbles(d, "staff")) >
             bots + 1, 20, "the hand-back note in /chat")
    bots = len(chat_bubbles(veteran, "bot"))
    chat_say(veteran, "优待证怎么申请")
    answer = wait_for_bot_reply(veteran, bots)
    assert answer.strip(), "the bot's answer after the hand-back is empty"
    screenshot(veteran, "04-chat-after-handback")
    errors = page_errors(staff) + page_errors(veteran)
    assert errors == [], errors


def submit_booking(driver) -> str:
    """Submits the booking form; when the time asked is taken or closed, picks the first free
    time offered and submits again. Returns the confirmation text."""
    for _ in range(4):
        click(driver, "#booking-form button[type=submit]")
        outcome = wait_for(driver, lambda d: visible("#created")(d) or visible("#b-times button")(d), 30,
                           "the booking made, or free times offered")
        if outcome.get_attribute("id") == "created":
            return wait_for(driver, lambda d: find(d, "#created-text").text, 10, "the confirmation text")
        outcome.click()
    raise AssertionError("no booking after four tries with the free times offered")


def test_a_booking_for_a_caller_on_ask(browsers, console, staff):
    url, _ = console
    forget_page_errors(staff)
    staff.get(f"{url}/ask")
    # The question pane first: the answer with its source (the knowledge base may still be loading).
    type_into(staff, "#question", "评残怎么申请")
    for _ in range(20):
        click(staff, "#ask-form button[type=submit]")
        try:
            wait_for(staff, lambda d: find(d, "#answer").text.strip(), 10, "the bot's answer")
            break
        except AssertionError:
            time.sleep(3)
    assert find(staff, "#answer").text.strip(), "no answer on /ask"
    screenshot(staff, "05-ask")

    click(staff, "#open-booking")
    wait_for(staff, lambda d: len(d.find_elements(*by_css("#b-service option"))) > 0, 15, "the services")
    type_into(staff, "#b-when", "下周三上午九点")
    type_into(staff, "#b-name", "张建国")
    type_into(staff, "#b-phone", CALLER_PHONE)
    type_into(staff, "#b-id", CALLER_ID)
    confirmation = submit_booking(staff)
    assert CALLER_ID not in confirmation and CALLER_PHONE not in confirmation, confirmation
    screenshot(staff, "05-ask-booking-made")

    staff.get(f"{url}/bookings")
    wait_for_text(staff, "张建国", css="#rows", timeout=15)
    assert CALLER_PHONE not in find(staff, "#rows").text, "the bookings table shows the phone in clear"
    screenshot(staff, "06-bookings")


# The way through the workflow (appeals/workflow.yml) an admin (leader role) may take: 派单 (with a
# station), 签收, 答复, 回访, 满意办结 — each state with the label the drawer shows.
APPEAL_PATH = [("dispatched", "已派单"), ("in_progress", "处理中"), ("answered", "已答复"), ("follow_up", "回访中"),
               ("closed", "已办结")]


def test_an_appeal_for_a_caller_moves_through_its_states(browsers, console, staff):
    url, _ = console
    forget_page_errors(staff)
    staff.get(f"{url}/ask")
    click(staff, "#open-appeal")
    type_into(staff, "#a-description", "我的优待金三个月没有发了，想请你们帮忙问问是怎么回事")
    click(staff, "#a-classify")
    wait_for(staff, lambda d: find(d, "#a-category").get_attribute("value"), 15, "a category proposed")
    type_into(staff, "#a-town", "当湖街道")
    type_into(staff, "#a-name", "李卫国")
    type_into(staff, "#a-phone", CALLER_PHONE)
    click(staff, "#appeal-form button[type=submit]")
    text = wait_for(staff, lambda d: visible("#created")(d) and find(d, "#created-text").text, 30,
                    "the appeal registered")
    found = re.search(r"编号[：:]\s*([0-9A-Z]{5,16})", text)
    assert found, f"no ticket number in {text!r}"
    reference = found.group(1)

    staff.get(f"{url}/appeals?reference={reference}")
    wait_for_text(staff, reference, css="#drawer h2", timeout=15)
    wait_for_text(staff, "已受理", css="#drawer h2")
    for state, label in APPEAL_PATH:
        if state == "dispatched":
            type_into(staff, "#drawer form.assign input[name=assignee]", "当湖街道退役军人服务站")
            click(staff, "#drawer form.assign button[type=submit]")
        else:
            click(staff, f"#drawer form.steps button[data-state={state}]")
        wait_for_text(staff, f"（{label}）", css="#drawer h2")
        assert "已保存" in find(staff, "#drawer").text
    events = find(staff, "#drawer ol.events").text
    for earlier, later in zip(["已受理"] + [label for _, label in APPEAL_PATH], [label for _, label in APPEAL_PATH]):
        assert f"{earlier} → {later}" in events, f"{earlier} → {later} missing from the appeal's record:\n{events}"
    screenshot(staff, "07-appeals")
    errors = page_errors(staff)
    assert errors == [], errors


MAIN_PAGES = [("08-dashboard", "/dashboard"), ("09-profile", "/profile"), ("10-knowledge", "/knowledge"),
              ("11-users", "/users")]


def open_caller_record(driver) -> None:
    """On /profile: the record of the caller the tests above booked and filed for, found by phone."""
    type_into(driver, "#find-phone", CALLER_PHONE)
    click(driver, "#find-form button[type=submit]")
    wait_for(driver, visible("#record"), 15, "the caller's record")
    assert CALLER_PHONE not in find(driver, "body").text, "the record shows the phone in clear"


def test_screenshots_of_the_main_pages(console, staff):
    url, _ = console
    forget_page_errors(staff)
    for name, path in MAIN_PAGES:
        staff.get(f"{url}{path}")
        wait_for(staff, lambda d: d.execute_script("return document.readyState") == "complete", 15, path)
        time.sleep(1.5)  # the page's own requests (charts, lists) finish
        assert "/login" not in staff.current_url, f"{path} sent an admin to the login page"
        if path == "/profile":
            open_caller_record(staff)
        screenshot(staff, name)
        errors = page_errors(staff)
        assert errors == [], f"{path}: {errors}"
