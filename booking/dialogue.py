"""What the booking conversation asks and understands, without Rasa: each `read_*` takes what the
veteran said and returns a Step (slot values to set, what to tell them). The Rasa actions in
bot/actions/booking.py only move values between these functions and the tracker.

Slot values never hold personal data in clear: a phone is kept as {"masked", "sealed"} (see
booking.pii.seal), an ID number as {"masked", "hash"}."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time

from booking import reference as ref
from booking.calendar import TZ, NotBookable, bookable_days, check_slot, day_label, day_slots
from booking.catalogue import Catalogue, Location, Service, load_catalogue
from booking.identity import ID_FORMAT, MOBILE_FORMAT, InvalidIdentity, validate_id_number, validate_mobile
from booking.pii import hash_id_number, mask_id_number, mask_phone, seal
from booking.service import STATUS_LABELS, seats_taken
from booking.when import parse_when

HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
NAME_FORMAT = "请告诉我姓名，比如“王建国”。"
# Not inside a longer run of digits: the 11 digits inside an ID number are not a mobile.
MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?1\d{10}(?!\d)")
SPOKEN_DIGITS = str.maketrans("零〇幺一二三四五六七八九", "001123456789")
ID_IN_TEXT = re.compile(r"(?<!\d)\d[\d\s\-]{15,22}[\dXx](?![\dXx])")
ANY_PLACE = re.compile("随便|都行|都可以|无所谓|哪里都|你们定|你定")
QUESTION = re.compile("什么|怎么|如何|多少|哪些|吗|呢|能不能|可不可以|要不要|[?？]")
NOT_A_NAME = re.compile("什么|怎么|多少|哪|吗|呢|要|带|办|能|可以|预约|材料|政策|算了|不约|不用|取消|人工|"
                        "不想|不说|不告诉|不方便|保密|镇|街道|社区|村|确认|确定|[?？0-9]")  # not a place either
# Said before the name: filler, who it is for, 姓张 (张德胜): 嗯就是周国平 / 是我父亲徐根荣.
NUMBER_LABEL = re.compile("(我的)?(身份证|手机|电话)(号码|号)?(是|为)?")
NAME_LEAD_IN = re.compile(r"^(?:嗯|呃|啊|哦|那个|就是|这个|是|我|他|她|的|帮|给|替|本人|老兵|预约人|姓名|名字|叫|"
                          r"爸爸?|妈妈?|父亲|母亲|老伴|爱人|儿子|女儿|丈夫|妻子|老公|老婆|姓(.)(?=\1))+")
CONFIRM_WORDS = ("确认", "确定", "没问题", "可以", "对的", "好的", "是的", "对", "好", "行", "嗯")
# Said around a yes (好的谢谢 / 确认预约 / 对的没问题): a reply of only these and CONFIRM_WORDS is a yes.
AROUND_YES = ("预约", "无误", "就这样", "谢谢", "吧", "啊", "呀", "哦", "了")
# What a change at the confirm step clears, so the form asks for it again.
CHANGES = (
    (("时间", "日期", "日子", "哪天", "几点", "上午", "下午", "改天"),
     ("booking_start", "booking_day", "booking_half")),
    (("地点", "地方", "服务站", "哪里办", "中心"), ("booking_location", "booking_start")),
    (("姓名", "名字"), ("booking_name",)),
    (("手机", "电话"), ("booking_phone",)),
    (("身份证",), ("booking_id",)),
    (("事项", "业务", "办什么", "办的事"), ("booking_service", "booking_choices")),
)
SUGGESTIONS = 4  # free times offered as buttons when the wanted one cannot be had
DAYS_SEARCHED = 10  # working days looked through for the nearest free times


@dataclass
class Step:
    slots: dict = field(default_factory=dict)
    say: list[str] = field(default_factory=list)
    buttons: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.slots or self.say)


def now() -> datetime:
    return datetime.now(TZ)


def catalogue() -> Catalogue:
    return load_catalogue()


def is_question(text: str) -> bool:
    """评残要带什么材料 is a question even where it names a service: answered, not taken as a choice."""
    return bool(QUESTION.search(text or ""))


def compact(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text or ""))


# ---- service and place -----------------------------------------------------------------

def read_service(text: str, choices: list[str] | None = None) -> Step:
    """One service named: it; several (just 评残): the choices to offer; none: nothing. With the
    choices offered, their own word is enough (新办 after 评残)."""
    found = catalogue().find_service(re.sub(r"\s", "", text))  # names have full-width （）
    if not found and choices:
        found = _told_apart(text, [catalogue().service(c) for c in choices])
    if len(found) > 1:
        found = _told_apart(text, found) or found
    if len(found) == 1:
        return _service_chosen(found[0])
    if found:
        return Step({"booking_choices": [s.id for s in found]})
    return Step()


def read_service_variant(text: str, current_id: str) -> Step:
    """补办 said after 优待证 was taken: the other service of the same group, when that is clear."""
    cat = catalogue()
    group = cat.service(current_id).group
    found = cat.find_service(group + re.sub(r"\s", "", text)) if group not in text else []
    if len(found) != 1 and group not in text:  # 不是 是补办 / 是补办的: the word among other words
        found = _told_apart(text, [s for s in cat.services if s.group == group])
    if len(found) != 1 or found[0].id == current_id or found[0].group != group:
        return Step()
    step = _service_chosen(found[0])
    step.say.insert(0, f"好的，办的是{found[0].name}。")
    return step


def _told_apart(text: str, services: list[Service]) -> list[Service]:
    """Those of one group's services whose own word, what the name adds to the group (评残（新办）:
    新办, 优待证补办: 补办), is in the text: 评残新办 / 是补办的."""
    said = compact(text)
    words = {s: re.sub(r"[（）()]", "", s.name.replace(s.group, "")) for s in services}
    return [s for s, word in words.items() if len(word) >= 2 and word in said]


def _service_chosen(service: Service) -> Step:
    step = Step({"booking_service": service.id, "booking_choices": None})
    places = catalogue().locations_for(service)
    if len(places) == 1:  # handled only at the centre: nothing to ask
        step.slots["booking_location"] = places[0].id
        step.say.append(f"{service.name}在{places[0].name}办理。")
    return step


def service_buttons(choices: list[str] | None) -> tuple[str, list[dict]]:
    cat = catalogue()
    if choices:
        services = [cat.service(i) for i in choices]
        return "您要办的是哪一项？", [{"title": s.name, "payload": s.name} for s in services]
    groups = list(dict.fromkeys(s.group for s in cat.services))
    return ("您要预约办哪项事？点选或直接说，比如“评残”“优待证”。",
            [{"title": g, "payload": g} for g in groups])


def read_location(text: str, service_id: str | None) -> Step:
    cat = catalogue()
    place = cat.nearest_location(compact(text))
    if place is None:
        return Step()
    if service_id:
        service = cat.service(service_id)
        if place not in cat.locations_for(service):
            centre = cat.centre
            return Step({"booking_location": centre.id},
                        [f"{place.name}不办{service.name}，给您约在{centre.name}。"])
    return Step({"booking_location": place.id})


def read_location_answer(text: str, service_id: str | None) -> Step:
    """The answer to "到哪里办？": a place, or 随便 / 都行 — then the centre, the default."""
    step = read_location(text, service_id)
    if not step and ANY_PLACE.search(compact(text)):
        return Step({"booking_location": catalogue().centre.id})
    return step


def location_question(service_id: str | None) -> tuple[str, list[dict]]:
    centre = catalogue().centre
    return (f"到哪里办？请说您住的镇或街道（比如“乍浦”），就近约服务站；也可以约{centre.name}。",
            [{"title": centre.name, "payload": centre.name}])


# ---- date and time ---------------------------------------------------------------------

def read_start(text: str, location_id: str, *, day: str | None, half: str | None,
               session, at: datetime | None = None) -> Step:
    """A date and/or time. A free slot: `booking_start`; a day without a time: the day (and
    half) kept, free times offered by `start_question`; a full or closed slot: why, with the
    nearest free times."""
    at = at or now()
    try:
        when = parse_when(compact(text), at)
    except NotBookable as refusal:
        return Step({"booking_start": None}, [str(refusal)])
    if when is None:
        return Step()
    wanted_day = when.day or _date(day)
    slots = {"booking_day": wanted_day and wanted_day.isoformat(), "booking_half": when.half or (
        half if when.day is None and when.time is None else None)}
    if wanted_day is None or when.time is None:
        return Step(slots | {"booking_start": None})
    location = catalogue().location(location_id)
    start = datetime.combine(wanted_day, when.time, TZ)
    try:
        check_slot(start, at, location.hours)
    except NotBookable as refusal:
        return Step(slots | {"booking_start": None}, [str(refusal)],
                    _time_buttons(nearest_free(session, location, start, at)))
    if seats_taken(session, location.id, wanted_day).get(when.time, 0) >= location.capacity_per_slot:
        return Step(slots | {"booking_start": None}, [f"{label(start)}已经约满了。"],
                    _time_buttons(nearest_free(session, location, start, at)))
    return Step(slots | {"booking_start": start.isoformat(timespec="minutes")})


def _date(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None


def free_starts(session, location: Location, day: date, at: datetime) -> list[datetime]:
    taken = seats_taken(session, location.id, day)
    return [s for s in day_slots(day, location.hours)
            if s > at and taken.get(s.time(), 0) < location.capacity_per_slot]


def nearest_free(session, location: Location, wanted: datetime, at: datetime) -> list[datetime]:
    """The free times closest to the one wanted, from that day on, earliest of equals first."""
    days = [d for d in bookable_days(at.date()) if d >= wanted.date()][:DAYS_SEARCHED]
    starts = [s for d in days for s in free_starts(session, location, d, at)]
    return sorted(starts, key=lambda s: (abs(s - wanted), s))[:SUGGESTIONS]


def start_question(location_id: str, day: str | None, half: str | None, session,
                   at: datetime | None = None) -> tuple[str, list[dict]]:
    at = at or now()
    location = catalogue().location(location_id)
    if not day:
        return ("想约哪天、几点？可以点下面的，也可以直接说，比如“下周三上午”“12月9号九点半”。",
                _half_day_buttons(session, location, at))
    the_day = date.fromisoformat(day)
    starts = [s for s in free_starts(session, location, the_day, at)
              if half is None or (s.hour < 12) == (half == "上午")]
    if starts:
        when = f"{day_label(the_day)}{half or ''}"
        return f"{when}还能约这些时间，选一个：", _time_buttons(starts[:6])
    nearest = nearest_free(session, location, datetime.combine(the_day, time(9), TZ), at)
    return (f"{day_label(the_day)}{half or ''}已经约满了。这些时间还能约，选一个，或者换一天：",
            _time_buttons(nearest))


def _half_day_buttons(session, location: Location, at: datetime, count: int = 6) -> list[dict]:
    """The next half-days that still have a free time, so a veteran can just pick one."""
    buttons = []
    for day in bookable_days(at.date())[:DAYS_SEARCHED]:
        starts = free_starts(session, location, day, at)
        for half in ("上午", "下午"):
            if any((s.hour < 12) == (half == "上午") for s in starts):
                buttons.append({"title": f"{day_label(day)}{half}", "payload": f"{day.isoformat()} {half}"})
        if len(buttons) >= count:
            break
    return buttons[:count]


def label(start: datetime) -> str:
    half, hour = ("上午", start.hour) if start.hour < 12 else ("下午", start.hour - 12 or 12)
    return f"{day_label(start.date())}{half}{hour}:{start.minute:02d}"


def _time_buttons(starts: list[datetime]) -> list[dict]:
    return [{"title": label(s), "payload": f"{s:%Y-%m-%d %H:%M}"} for s in starts]


# ---- who --------------------------------------------------------------------------------

def read_name(text: str) -> Step:
    said = re.sub(r"[\d\s+\-Xx]+", "", compact(text)).strip("。，,.！!")  # a number said with it
    said = NUMBER_LABEL.sub("", said)  # …and what it was called: 王建国 我的身份证330482…
    name = NAME_LEAD_IN.sub("", re.sub(r"^.*?(我叫|叫|我是|姓名是?|名字是?|预约人是?)", "", said))
    if 2 <= len(name) <= 6 and re.fullmatch(r"[\u4e00-\u9fff·]+", name) and not NOT_A_NAME.search(name):
        return Step({"booking_name": name})
    return Step()


def _mobile_in(text: str) -> re.Match | None:
    """一三八五七三… as voice input writes a number read aloud (幺 for 1) counts as digits."""
    digits = compact(text).translate(SPOKEN_DIGITS)
    return MOBILE_IN_TEXT.search(re.sub(r"[\-－]", "", digits))


def read_phone(text: str) -> Step:
    digits = _mobile_in(text)
    try:
        phone = validate_mobile(digits.group() if digits else text)
    except InvalidIdentity as problem:
        return Step(say=[str(problem)])
    return Step({"booking_phone": sealed_phone(phone)})


def sealed_phone(phone: str) -> dict:
    """How a phone is kept in a slot: masked to show, sealed to use."""
    return {"masked": mask_phone(phone), "sealed": seal(phone)}


def read_id_number(text: str, at: datetime | None = None) -> Step:
    found = ID_IN_TEXT.search(compact(text))
    try:
        number = validate_id_number(found.group() if found else text, (at or now()).date())
    except InvalidIdentity as problem:
        return Step(say=[str(problem)])
    return Step({"booking_id": {"masked": mask_id_number(number), "hash": hash_id_number(number)}})


FORMATS = {"booking_service": "没听出您要办哪项事，请点选或直接说事项名。",
           "booking_location": "没听出是哪个镇或街道。请说镇或街道的名字，比如“乍浦”“当湖”。",
           "booking_start": "没听出日期和时间。请说哪天、上午还是下午，比如“明天上午”“下周三下午两点”。",
           "booking_name": NAME_FORMAT, "booking_phone": MOBILE_FORMAT, "booking_id": ID_FORMAT}


# ---- read-back and confirmation ---------------------------------------------------------

def summary(slots: dict) -> str:
    cat = catalogue()
    service = cat.service(slots["booking_service"])
    place = cat.location(slots["booking_location"])
    start = datetime.fromisoformat(slots["booking_start"])
    address = "" if place.address.startswith("待确认") else f"（{place.address}）"
    return "\n".join([
        "请核对预约信息：",
        f"事项：{service.name}",
        f"地点：{place.name}{address}",
        f"时间：{label(start)}",
        f"姓名：{slots['booking_name']}",
        f"手机：{slots['booking_phone']['masked']}",
        f"身份证：{slots['booking_id']['masked']}",
        "要带的材料：",
        service.checklist(),
    ])


CONFIRM_BUTTONS = [{"title": "确认预约", "payload": "确认"}, {"title": "改时间", "payload": "改时间"},
                   {"title": "改地点", "payload": "改地点"}, {"title": "不约了", "payload": "/deny"}]


def read_confirm(text: str) -> tuple[str, tuple[str, ...]]:
    """("yes", ()) / ("change", slots to ask again) / ("unclear", ())."""
    said = compact(text).strip("。！!，,")
    if re.search("改|换|错|不对", said):  # 电话号码写错了 / 名字不对 name what to change too
        for words, slots in CHANGES:
            if any(w in said for w in words):
                return "change", slots
        return "unclear", ()
    rest = re.sub("|".join(CONFIRM_WORDS + AROUND_YES), "", said)
    if (said and not rest.strip("。！!，,~")) or said == "1":  # not 确定不了 / 不约了
        return "yes", ()
    return "unclear", ()


def booking_done_text(booking) -> str:
    cat = catalogue()
    service = cat.service(booking.service_code)
    place = cat.location(booking.location_code)
    start = datetime.combine(booking.date, booking.start_time, TZ)
    phone = "" if place.phone.startswith("待确认") else f"，电话{place.phone}"
    return "\n".join([
        f"预约成功！预约号：{booking.reference}（请记好，查询、改时间、取消都用它）。",
        f"{label(start)}，到{place.name}办理{service.name}{phone}。",
        "请带好：",
        service.checklist(),
        "前一天会提醒您。要改时间或取消，跟我说“改预约”或“取消预约”就行。",
    ])


def booking_text(booking) -> str:
    cat = catalogue()
    start = datetime.combine(booking.date, booking.start_time, TZ)
    return (f"预约号{booking.reference}：{label(start)}，{cat.location(booking.location_code).name}，"
            f"办理{cat.service(booking.service_code).name}（{STATUS_LABELS[booking.status]}）。")


# ---- finding one's booking --------------------------------------------------------------

def read_reference(text: str) -> str | None:
    for candidate in re.findall(r"[0-9A-Za-z]{7}", compact(text).upper()):
        if ref.is_valid(candidate):
            return ref.normalize(candidate)
    return None


def phone_in(text: str) -> str | None:
    digits = _mobile_in(text)
    try:
        return validate_mobile(digits.group()) if digits else None
    except InvalidIdentity:
        return None
