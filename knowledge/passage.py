"""The unit of retrieval: one passage with everything needed to cite it."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Passage:
    id: str  # stable: corpus entry id, or "<doc_id>#<article>" for imported articles
    doc_id: str  # corpus entry id, or the slug of an imported document
    title: str  # entry title, or the document title (中华人民共和国退役军人保障法)
    source: str  # what an answer cites: law / document name, without 《》
    article: str  # "第二十二条" (imported) or "第二十二条、第二十三条" (corpus); may be ""
    date: str  # effective / version date, ISO YYYY-MM-DD
    in_force: bool
    region: str  # 全国 / 浙江 / 嘉兴 / 平湖
    category: str  # topic, e.g. 优待证; "法规" for imported documents
    text: str
    chapter: str = ""  # "第三章 移交接收" for imported law articles
    keywords: str = ""  # extra search words (corpus front matter); indexed, never shown

    def to_dict(self) -> dict:
        return asdict(self)
