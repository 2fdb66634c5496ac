"""Console API: human takeover (take / reply / release, the reply window) and canned replies (常用语)."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field, conint, constr
from sqlalchemy import func, select

from console import audit, rasa_api, takeover
from console.auth import StaffPrincipal, current_staff, require_admin
from console.models import CannedReply, Conversation
from console.types import RowId
from vetbot.config import hotline
from vetbot.storage import session_scope

router = APIRouter(tags=["takeover"])

SenderId = Path(..., description="对话编号（sender_id）")

DEFAULT_CANNED = [  # seeded when the table is empty, so a new console has something to click
    ("问候", "您好，我是平湖市退役军人事务局的工作人员，请问有什么可以帮您？"),
    ("稍等", "好的，我帮您查一下，请稍等几分钟。"),
    ("要材料", "请准备好身份证、退役证件（退伍证或转业证），办理时一起带上。"),
    ("来电", "这件事电话里说得更清楚，方便的话请打服务热线：{hotline}，工作时间都有人接。"),
    ("上门", "您行动不方便的话，我们可以安排镇街服务站的同志上门帮您办理。"),
    ("结束", "还有别的需要吗？没有的话我就先把对话交还给机器人，有事随时找我们。"),
]


class ConversationState(BaseModel):
    sender_id: str
    state: str
    holder: str | None


class ReplyWindowOut(BaseModel):
    can_reply: bool
    path: str = Field(..., description="direct：直接送达；template：微信模板通知；none：发不出去")
    until: datetime | None = Field(None, description="微信48小时回复期限的结束时间")
    notice: str


ReplyText = constr(strip_whitespace=True, min_length=1, max_length=takeover.MAX_REPLY_CHARS)


class ReplyIn(BaseModel):
    text: ReplyText


class ReplyOut(BaseModel):
    delivered: str = Field(..., description="direct / template：消息怎么发出去的")
    notice: str


class CannedIn(BaseModel):
    title: constr(strip_whitespace=True, min_length=1, max_length=64)
    text: ReplyText
    position: conint(ge=-10_000, le=10_000) = 0


class CannedOut(CannedIn):
    id: int


def _run(action, *args):
    """Refusals and bot-server failures become one Chinese line for staff."""
    try:
        return action(*args)
    except takeover.TakeoverRefused as refused:
        raise HTTPException(status_code=refused.status, detail=str(refused)) from None
    except rasa_api.RasaError as error:
        raise HTTPException(status_code=502, detail=str(error)) from None


def _state(conversation: Conversation) -> ConversationState:
    return ConversationState(sender_id=conversation.sender_id, state=conversation.state, holder=conversation.holder)


@router.post("/api/conversations/{sender_id}/take", response_model=ConversationState, summary="接管对话（机器人暂停）")
def take(sender_id: str = SenderId, staff: StaffPrincipal = Depends(current_staff)):
    return _state(_run(takeover.take, staff, sender_id))


@router.post("/api/conversations/{sender_id}/reply", response_model=ReplyOut, summary="以工作人员身份回复")
def reply(body: ReplyIn, sender_id: str = SenderId, staff: StaffPrincipal = Depends(current_staff)):
    window = _run(takeover.reply, staff, sender_id, body.text)
    notice = "已发出。" if window.path == takeover.DIRECT else "已放进待发通知，会以微信模板通知发出。"
    return ReplyOut(delivered=window.path, notice=notice)


@router.post("/api/conversations/{sender_id}/release", response_model=ConversationState, summary="交还机器人")
def release(sender_id: str = SenderId, staff: StaffPrincipal = Depends(current_staff)):
    _run(takeover.release, staff, sender_id)
    with session_scope() as session:
        return _state(session.get(Conversation, sender_id))


@router.get("/api/conversations/{sender_id}/reply-window", response_model=ReplyWindowOut,
            summary="现在回复能否送达对方、怎么送达")
def reply_window(sender_id: str = SenderId, staff: StaffPrincipal = Depends(current_staff)):
    with session_scope() as session:
        conversation = session.get(Conversation, sender_id)
        if conversation is None:
            raise HTTPException(status_code=404, detail="找不到这个对话。")
    window = takeover.reply_window(conversation.channel, conversation.last_user_at)
    return ReplyWindowOut(**window.__dict__)


# ---- canned replies ----------------------------------------------------------------------------

def _canned(row: CannedReply) -> CannedOut:
    return CannedOut(id=row.id, title=row.title, text=row.text, position=row.position)


@router.get("/api/canned-replies", response_model=list[CannedOut], tags=["canned"], summary="常用语")
def list_canned(staff: StaffPrincipal = Depends(current_staff)):
    with session_scope() as session:
        if not session.execute(select(func.count()).select_from(CannedReply)).scalar_one():
            session.add_all(CannedReply(title=title, text=text.format(hotline=hotline()), position=index)
                            for index, (title, text) in enumerate(DEFAULT_CANNED))
            session.flush()
        rows = session.execute(select(CannedReply).order_by(CannedReply.position, CannedReply.id)).scalars()
        return [_canned(row) for row in rows]


@router.post("/api/canned-replies", response_model=CannedOut, status_code=201, tags=["canned"],
             summary="新增常用语（管理员）")
def create_canned(body: CannedIn, staff: StaffPrincipal = Depends(require_admin)):
    with session_scope() as session:
        row = CannedReply(title=body.title, text=body.text, position=body.position)
        session.add(row)
        session.flush()
        audit.record(session, staff, "canned_create", "canned_reply", row.id, {"title": row.title})
        return _canned(row)


def _canned_row(session, canned_id: RowId) -> CannedReply:
    row = session.get(CannedReply, canned_id)
    if row is None:
        raise HTTPException(status_code=404, detail="找不到这条常用语。")
    return row


@router.put("/api/canned-replies/{canned_id}", response_model=CannedOut, tags=["canned"], summary="修改常用语（管理员）")
def update_canned(canned_id: RowId, body: CannedIn, staff: StaffPrincipal = Depends(require_admin)):
    with session_scope() as session:
        row = _canned_row(session, canned_id)
        row.title, row.text, row.position = body.title, body.text, body.position
        audit.record(session, staff, "canned_update", "canned_reply", row.id, {"title": row.title})
        return _canned(row)


@router.delete("/api/canned-replies/{canned_id}", status_code=204, tags=["canned"], summary="删除常用语（管理员）")
def delete_canned(canned_id: RowId, staff: StaffPrincipal = Depends(require_admin)):
    with session_scope() as session:
        row = _canned_row(session, canned_id)
        audit.record(session, staff, "canned_delete", "canned_reply", row.id, {"title": row.title})
        session.delete(row)
