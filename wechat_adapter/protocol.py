"""WeChat's callback protocol: signatures, safe-mode crypto and the XML on the wire.

Everything here is pure (no I/O) so it can be tested and reused by the fake WeChat server.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from wechatpy.crypto import WeChatCrypto


class ProtocolError(Exception):
    """The request is malformed or hostile: answer 400."""


class SignatureError(Exception):
    """The request was not signed with our token: answer 403."""


# DOCTYPE / ENTITY declarations are how "billion laughs" and external-entity attacks start.
# WeChat never sends them, so any markup declaration other than CDATA is refused outright.
_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)", re.IGNORECASE)


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the lexicographically sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # str.encode() is always UTF-8


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> None:
    expected = sha1_signature(token, timestamp, nonce)
    if not signature or not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError("bad signature")


def check_msg_signature(token: str, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
    expected = sha1_signature(token, timestamp, nonce, encrypted)
    if not msg_signature or not hmac.compare_digest(expected, msg_signature.lower()):
        raise SignatureError("bad msg_signature")


def parse_xml(body: bytes | str, max_bytes: int = 64 * 1024) -> dict[str, str]:
    """Parse a flat WeChat <xml> document into {tag: text}; refuse anything hostile."""
    if isinstance(body, str):
        body = body.encode()
    if len(body) > max_bytes:
        raise ProtocolError("body too large")
    if _DECLARATION.search(body):
        raise ProtocolError("markup declarations (DOCTYPE/ENTITY) are not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise ProtocolError(f"malformed XML: {error}") from None
    if root.tag != "xml":
        raise ProtocolError("root element must be <xml>")
    fields: dict[str, str] = {}
    for child in root:
        # Nested structures (ScanCodeInfo, SendPicsInfo...) are flattened one level; we only
        # need their presence, never their details.
        text = child.text or ""
        if len(child):
            text = "".join((grandchild.text or "") for grandchild in child)
        fields[child.tag] = text.strip() if child.tag != "Content" else text
    return fields


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_text_reply(to_user: str, from_user: str, content: str, create_time: int | None = None) -> str:
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time or time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


@dataclass
class SafeMode:
    """Safe-mode (AES) crypto for one official account, built on wechatpy's WeChatCrypto."""

    token: str
    encoding_aes_key: str
    app_id: str

    def __post_init__(self) -> None:
        try:
            self._crypto = WeChatCrypto(self.token, self.encoding_aes_key, self.app_id)
        except Exception as error:  # bad base64 / wrong length
            raise ValueError("WECHAT_ENCODING_AES_KEY must be the 43-character key from the console") from error

    def decrypt(self, encrypted: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        check_msg_signature(self.token, msg_signature, timestamp, nonce, encrypted)
        try:
            # A dict is passed so wechatpy does not parse XML itself (we already did, safely).
            return self._crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
        except Exception as error:
            raise ProtocolError(f"cannot decrypt: {type(error).__name__}") from None

    def encrypt(self, reply_xml: str, nonce: str | None = None) -> str:
        """Encrypt a passive reply; wechatpy stamps it with the current time."""
        if not nonce:
            nonce = secrets.token_hex(8)  # pragma: no mutate (equivalent: any fresh random nonce is valid; its length is not checked)
        return self._crypto.encrypt_message(reply_xml, nonce)
