import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature as wechatpy_check_signature

from tests.fakes.fake_wechat import make_aes_key
from wechat_adapter.protocol import (
    ProtocolError,
    SafeMode,
    SignatureError,
    build_text_reply,
    check_signature,
    parse_xml,
    sha1_signature,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><MsgType>text</MsgType><Content>&lol3;</Content></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!doctype xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>o1</FromUserName><Content>&xxe;</Content></xml>"""


def test_signature_matches_wechatpy():
    signature = sha1_signature("token", "1700000000", "nonce")
    wechatpy_check_signature("token", signature, "1700000000", "nonce")  # raises if different
    check_signature("token", signature, "1700000000", "nonce")
    with pytest.raises(SignatureError):
        check_signature("token", signature, "1700000001", "nonce")
    with pytest.raises(SignatureError):
        check_signature("token", "", "1700000000", "nonce")


def test_parse_flat_message_keeps_content_verbatim():
    fields = parse_xml(
        "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[ 优待证怎么办？ ]]></Content><MsgId>123</MsgId></xml>"
    )
    assert fields["FromUserName"] == "o1"
    assert fields["Content"] == " 优待证怎么办？ "
    assert fields["MsgId"] == "123"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, b"<xml><a>unclosed</xml>", b"not xml", b"<root/>"])
def test_hostile_or_malformed_xml_is_refused(body):
    with pytest.raises(ProtocolError):
        parse_xml(body)


def test_oversized_body_is_refused():
    with pytest.raises(ProtocolError):
        parse_xml(b"<xml><Content>" + b"a" * 70_000 + b"</Content></xml>", max_bytes=64 * 1024)


def test_reply_escapes_cdata_terminator():
    reply = build_text_reply("o1", "gh", "a]]>b<c>&d", create_time=1)
    assert xmltodict.parse(reply)["xml"]["Content"] == "a]]>b<c>&d"


def test_safe_mode_round_trip_with_wechatpy_as_peer():
    key = make_aes_key()
    peer = WeChatCrypto("tok", key, "wxapp")
    ours = SafeMode("tok", key, "wxapp")
    # WeChat encrypts a push; we decrypt it.
    pushed = xmltodict.parse(peer.encrypt_message("<xml><Content>你好</Content></xml>", "n1", "1700000000"))["xml"]
    assert ours.decrypt(pushed["Encrypt"], pushed["MsgSignature"], "1700000000", "n1") == "<xml><Content>你好</Content></xml>"
    with pytest.raises(SignatureError):
        ours.decrypt(pushed["Encrypt"], "0" * 40, "1700000000", "n1")
    # We encrypt a reply; WeChat decrypts it.
    reply = ours.encrypt(build_text_reply("o1", "gh", "您好"), nonce="n2")
    document = xmltodict.parse(reply)["xml"]
    plain = peer.decrypt_message(reply, document["MsgSignature"], document["TimeStamp"], document["Nonce"])
    assert xmltodict.parse(plain)["xml"]["Content"] == "您好"


def test_safe_mode_rejects_other_app_and_garbage():
    key = make_aes_key()
    other_app = WeChatCrypto("tok", key, "wx_other")
    ours = SafeMode("tok", key, "wxapp")
    pushed = xmltodict.parse(other_app.encrypt_message("<xml/>", "n", "1"))["xml"]
    with pytest.raises(ProtocolError):
        ours.decrypt(pushed["Encrypt"], pushed["MsgSignature"], "1", "n")
    garbage = "!!!notbase64"
    with pytest.raises(ProtocolError):
        ours.decrypt(garbage, sha1_signature("tok", "1", "n", garbage), "1", "n")


def test_bad_aes_key_is_a_configuration_error():
    with pytest.raises(ValueError):
        SafeMode("tok", "too-short", "wxapp")
