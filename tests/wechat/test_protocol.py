import time

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


def test_signature_error_names_the_signature_that_failed():
    # The 403 log line carries this reason: it tells a URL/token mistake from a safe-mode key mistake.
    with pytest.raises(SignatureError) as refused:
        check_signature("token", "0" * 40, "1700000000", "nonce")
    assert str(refused.value) == "bad signature"
    ours = SafeMode("tok", make_aes_key(), "wxapp")
    with pytest.raises(SignatureError) as refused:
        ours.decrypt("ZW5jcnlwdGVk", "0" * 40, "1700000000", "n1")
    assert str(refused.value) == "bad msg_signature"


def test_parse_flat_message_keeps_content_verbatim():
    fields = parse_xml(
        "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[ 优待证怎么办？ ]]></Content><MsgId>123</MsgId></xml>"
    )
    assert fields["FromUserName"] == "o1"
    assert fields["Content"] == " 优待证怎么办？ "
    assert fields["MsgId"] == "123"


def test_fields_are_flattened_and_stripped_except_content():
    fields = parse_xml(
        "<xml><ToUserName> gh </ToUserName><MsgId></MsgId><Content/>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><Empty/><ScanResult> abc </ScanResult></ScanCodeInfo></xml>"
    )
    assert fields == {"ToUserName": "gh", "MsgId": "", "Content": "", "ScanCodeInfo": "qrcode abc"}


# Each input is refused by the check meant for it (the reason is what the 400 log line says).
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "markup declarations (DOCTYPE/ENTITY) are not accepted"),
        (EXTERNAL_ENTITY, "markup declarations (DOCTYPE/ENTITY) are not accepted"),
        (b"<xml><a>unclosed</xml>", "malformed XML: mismatched tag: line 1, column 18"),
        (b"not xml", "malformed XML: syntax error: line 1, column 0"),
        (b"<root/>", "root element must be <xml>"),
    ],
)
def test_hostile_or_malformed_xml_is_refused(body, reason):
    with pytest.raises(ProtocolError) as refused:
        parse_xml(body)
    assert str(refused.value) == reason


def test_body_limit_is_in_bytes_and_inclusive():
    body = "<xml><Content>优待证</Content></xml>"
    size = len(body.encode("utf-8"))  # 9 bytes of content, 3 characters
    assert parse_xml(body, max_bytes=size)["Content"] == "优待证"
    with pytest.raises(ProtocolError) as refused:
        parse_xml(body, max_bytes=size - 1)
    assert str(refused.value) == "body too large"


def test_text_reply_fields():
    reply = build_text_reply("o1", "gh", "a]]>b<c>&d", create_time=1)
    assert xmltodict.parse(reply)["xml"] == {
        "ToUserName": "o1", "FromUserName": "gh", "CreateTime": "1", "MsgType": "text", "Content": "a]]>b<c>&d",
    }


def test_text_reply_is_stamped_now_by_default():
    before = int(time.time())
    stamped = int(xmltodict.parse(build_text_reply("o1", "gh", "您好"))["xml"]["CreateTime"])
    assert before <= stamped <= time.time()


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
    before = int(time.time())
    reply = ours.encrypt(build_text_reply("o1", "gh", "您好"), nonce="n2")
    document = xmltodict.parse(reply)["xml"]
    assert document["Nonce"] == "n2"  # WeChat's nonce from the request, echoed back
    assert before <= int(document["TimeStamp"]) <= time.time()
    plain = peer.decrypt_message(reply, document["MsgSignature"], document["TimeStamp"], document["Nonce"])
    assert xmltodict.parse(plain)["xml"]["Content"] == "您好"


def test_safe_mode_reply_without_nonce_gets_a_fresh_one():
    key = make_aes_key()
    peer = WeChatCrypto("tok", key, "wxapp")
    ours = SafeMode("tok", key, "wxapp")
    documents = [xmltodict.parse(ours.encrypt("<xml><Content>您好</Content></xml>"))["xml"] for _ in range(2)]
    assert documents[0]["Nonce"] != documents[1]["Nonce"]
    for document in documents:
        plain = peer.decrypt_message(
            {"Encrypt": document["Encrypt"]}, document["MsgSignature"], document["TimeStamp"], document["Nonce"]
        )
        assert plain == "<xml><Content>您好</Content></xml>"


def test_safe_mode_rejects_other_app_and_garbage():
    key = make_aes_key()
    other_app = WeChatCrypto("tok", key, "wx_other")
    ours = SafeMode("tok", key, "wxapp")
    pushed = xmltodict.parse(other_app.encrypt_message("<xml/>", "n", "1"))["xml"]
    with pytest.raises(ProtocolError) as refused:
        ours.decrypt(pushed["Encrypt"], pushed["MsgSignature"], "1", "n")
    assert str(refused.value) == "cannot decrypt: InvalidAppIdException"
    garbage = "!!!notbase64"
    with pytest.raises(ProtocolError) as refused:
        ours.decrypt(garbage, sha1_signature("tok", "1", "n", garbage), "1", "n")
    assert str(refused.value) == "cannot decrypt: Error"  # binascii.Error


def test_bad_aes_key_is_a_configuration_error():
    # The channel logs this and disables safe mode: the message tells the operator what to fix.
    with pytest.raises(ValueError) as refused:
        SafeMode("tok", "too-short", "wxapp")
    assert str(refused.value) == "WECHAT_ENCODING_AES_KEY must be the 43-character key from the console"
