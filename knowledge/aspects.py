"""What a question asks about (the amount, the documents, the place …) and the sentences of a
passage that answer it. A passage often covers several aspects; its first sentences answer only
one of them, so 评残要带什么 must be answered with the sentences about the documents."""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = "[0-9一二三四五六七八九十百千万两]"


@dataclass(frozen=True)
class Aspect:
    name: str
    asked: re.Pattern  # words of a question that ask for it
    says: re.Pattern  # words of a sentence that address it


# In order of precedence: 办评残要多少钱 asks the fee, not an amount of money paid out;
# 能不能申请 asks who may, not how.
ASPECTS = (
    Aspect("fee", re.compile("收费|收不收|收钱|要钱|要不要钱|花钱|花多少钱|费用|免费|工本费|自己出钱|交钱|交多少"),
           re.compile("收费|免费|不收|费用|工本费|自费|自行承担|交钱|不用交|不要钱|不花钱")),
    Aspect("amount", re.compile("多少钱|拿多少|给多少|发多少|补多少|领多少|补助多少|多少元|几块|多少块|几千|几万|"
                                "金额|标准是多少|标准多少|有多少|多高"),
           re.compile(f"{_NUM}+(\\.[0-9]+)?\\s*(元|万元|块)|标准|金额|倍|百分之|%|比例")),
    Aspect("documents", re.compile("材料|带什么|带啥|带哪些|拿什么|准备什么|准备啥|准备哪些|证件|资料|要带|证明"),
           re.compile("材料|证明|身份证|户口|复印件|原件|照片|携带|带上|提供|提交|证件|档案|病历|退役证|退伍证")),
    Aspect("place", re.compile("去哪里|去哪儿|在哪里|在哪儿|哪里|哪儿|哪边|去哪|在哪|什么地方|啥地方|哪个部门|哪个单位|找谁|地址|哪办"),
           re.compile("服务中心|服务站|事务局|部门|窗口|地址|到.{0,15}(办理|申请|报到|领取)|向.{0,15}(申请|提出|报到)")),
    Aspect("time_limit", re.compile("多久|多长时间|几天|几个月|时限|期限|什么时候|啥时候|何时|截止|过期|逾期|来得及|"
                                    "多少天|几年|时间限制|时间要求|还能办吗|晚了"),
           re.compile(f"{_NUM}+\\s*(日|天|个月|周|年|个工作日)|期限|以内|之内|之前|当月|逾期|及时|期间")),
    Aspect("recipient", re.compile("谁领|给谁|发给谁|谁来领|由谁|谁去领|领给"),
           re.compile("发给|领取|本人|家属|遗属|配偶|父母|子女")),
    Aspect("eligibility", re.compile("能不能|可不可以|能否|可以吗|能吗|符合|条件|够不够|资格|谁能|哪些人|算不算|属于|有没有份"),
           re.compile("符合|条件|可以|应当|属于|对象|享受|凡|具备|不能|不得")),
    Aspect("procedure", re.compile("怎么申请|怎么申领|申领|怎么办|如何办|如何申请|怎么弄|咋办|咋弄|流程|步骤|手续|程序|怎么领|"
                                   "怎么评|怎么认定|怎么才能|如何|怎样|申请"),
           re.compile("申请|提出|审核|审批|认定|评定|办理|受理|提交|报送|批准|鉴定|流程|先|再|然后")),
)
BY_NAME = {aspect.name: aspect for aspect in ASPECTS}
_LIST_LINE = re.compile(r"^\s*(\d+[.．、]|[（(]\d+[)）]|[-•·])")
_SENTENCE = re.compile(r"(?<=[。！？；])")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def asked_aspect(question: str) -> str | None:
    """The first aspect (by precedence) the question's words ask for, else None."""
    for aspect in ASPECTS:
        if aspect.asked.search(question):
            return aspect.name
    return None


def asked_aspects(text: str) -> frozenset[str]:
    """Every aspect the text asks for (an entry title may ask two: 怎么申领，要准备什么)."""
    return frozenset(aspect.name for aspect in ASPECTS if aspect.asked.search(text))


def strip_aspect_words(text: str) -> str:
    """The question without what it asks (评残怎么申请 → 评残): its topic."""
    for aspect in ASPECTS:
        text = aspect.asked.sub("", text)
    return text


def segments(text: str) -> list[str]:
    """Sentences of the passage, with a numbered list kept whole together with the line that
    introduces it (a checklist is answered as a whole or not at all)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if _LIST_LINE.match(line) and out and (out[-1].endswith(("：", ":")) or "\n" in out[-1]):
            out[-1] += "\n" + line
        else:
            out.extend(s for s in _SENTENCE.split(line) if s.strip())
    return out


def _bigrams(text: str) -> set[str]:
    han = "".join(_HAN.findall(text))
    return {han[i:i + 2] for i in range(len(han) - 1)}


def pick(text: str, aspect: str, question: str, limit: int) -> str | None:
    """The segments of `text` that address `aspect`, in their own order, within `limit`
    characters; None when no segment does (the caller then says the rule does not state it)."""
    says = BY_NAME[aspect].says
    topic = _bigrams(strip_aspect_words(question))
    parts = segments(text)
    scored = []
    for index, part in enumerate(parts):
        hits = len(says.findall(part))
        if hits:
            # The aspect's own words first; the question's topic words break ties; earlier wins.
            scored.append((hits * 2 + len(topic & _bigrams(part)), -index, index))
    if not scored:
        return None
    chosen: list[int] = []
    used = 0
    for _, _, index in sorted(scored, reverse=True):
        size = len(parts[index])
        if chosen and used + size > limit:
            continue
        chosen.append(index)
        used += size
        if len(chosen) == 2:
            break
    return "".join(parts[i] if "\n" not in parts[i] else "\n" + parts[i] + "\n" for i in sorted(chosen)).strip()
