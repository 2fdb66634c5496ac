"""The adapter over real HTTP, with the fake WeChat as the peer and real bot callables."""
from __future__ import annotations

from pathlib import Path

import pytest
from wechatpy.crypto import WeChatCrypto

from tests.fakes.fake_wechat import FakeWeChat, make_aes_key, render_xml, sign
from tests.wechat.bots import ButtonsBot, EchoBot, RaisingBot, SilentBot
from tests.wechat.conftest import TOKEN
from tests.wechat.harness import RunningServer
from wechat_adapter.channel import WeChatInput
from wechat_adapter.routing import UNSUPPORTED_MESSAGE, VOICE_NOT_RECOGNISED

OPENID = "oPinghuVeteran0001"
REPO = Path(__file__).resolve().parents[2]


def test_url_verification(fake, serve):
    server = serve(EchoBot())
    assert fake.verify_url(server.webhook_url, echostr="abc123") == (200, "abc123")
    status, _ = fake.verify_url(server.webhook_url, forge=True)
    assert status == 403


@pytest.mark.parametrize("mode", ["plain", "safe", "compat"])
def test_round_trip(fake, serve, mode):
    bot = EchoBot()
    server = serve(bot)
    result = fake.push_text(server.webhook_url, OPENID, "退役军人优待证怎么申请", msg_id=1001, mode=mode)
    assert result.status == 200 and result.attempts == 1
    assert result.encrypted == (mode != "plain")
    assert result.content == "收到：退役军人优待证怎么申请"
    assert result.reply["ToUserName"] == OPENID
    assert result.reply["FromUserName"] == fake.account_id
    assert result.reply["MsgType"] == "text"
    # openid is Rasa's sender_id, MsgId the message id, on the wechat input channel.
    [message] = bot.messages
    assert (message.sender_id, message.message_id, message.input_channel) == (OPENID, "1001", "wechat")


def test_forged_signature_never_reaches_the_bot(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    body, params = fake.build_push({"FromUserName": OPENID, "MsgType": "text", "Content": "hi", "MsgId": 7}, "plain")
    forged = dict(params, signature=sign("guessed-token", params["timestamp"], params["nonce"]))
    assert fake.post(server.webhook_url, body, forged).status == 403
    # Safe mode: a valid URL signature does not help if the ciphertext's msg_signature is wrong.
    body, params = fake.build_push({"FromUserName": OPENID, "MsgType": "text", "Content": "hi", "MsgId": 8}, "safe")
    assert fake.post(server.webhook_url, body, dict(params, msg_signature="0" * 40)).status == 403
    body, params = fake.build_push({"FromUserName": OPENID, "MsgType": "text", "Content": "hi", "MsgId": 9}, "plain")
    assert fake.post(server.webhook_url, body, dict(params, signature="")).status == 403
    assert bot.turns == 0


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><MsgType>text</MsgType>"
    "<Content>&lol3;</Content><MsgId>99</MsgId></xml>"
)


def test_hostile_bodies_get_400_and_the_server_survives(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    _, params = fake.build_push({"FromUserName": OPENID}, "plain")
    hostile = [
        BILLION_LAUGHS.format(openid=OPENID).encode(),
        b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>',
        b"<xml><FromUserName>" + b"A" * (2 * 1024 * 1024) + b"</FromUserName></xml>",  # oversized
        b"<xml><FromUserName>o1</FromUserName",  # truncated
        b"\xff\xfe garbage",
        b"",
    ]
    for body in hostile:
        assert fake.post(server.webhook_url, body, params).status == 400
    # The same attack inside a correctly signed and encrypted safe-mode message.
    crypto = WeChatCrypto(TOKEN, fake.aes_key, fake.app_id)
    import xmltodict

    encrypted = xmltodict.parse(
        crypto.encrypt_message(BILLION_LAUGHS.format(openid=OPENID), params["nonce"], params["timestamp"])
    )["xml"]["Encrypt"]
    safe_params = dict(
        params, encrypt_type="aes", msg_signature=sign(TOKEN, params["timestamp"], params["nonce"], encrypted)
    )
    body = render_xml({"ToUserName": "gh", "Encrypt": encrypted}).encode()
    assert fake.post(server.webhook_url, body, safe_params).status == 400
    assert bot.turns == 0
    assert fake.push_text(server.webhook_url, OPENID, "还在吗", mode="safe").content == "收到：还在吗"


def test_openid_must_match_the_signed_query(fake, serve):
    server = serve(EchoBot())
    body, params = fake.build_push({"FromUserName": OPENID, "MsgType": "text", "Content": "hi", "MsgId": 5}, "plain")
    assert fake.post(server.webhook_url, body, dict(params, openid="someone-else")).status == 400


def test_events(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    url = server.webhook_url
    assert fake.push_event(url, OPENID, "subscribe").content == "收到：/greet"
    assert fake.push_event(url, OPENID, "subscribe", event_key="qrscene_123", create_time=1).content == "收到：/greet"
    assert fake.push_event(url, OPENID, "SCAN", event_key="123", create_time=2).content == "收到：/greet"
    expected = {
        "POLICY_QA": "/ask_policy",
        "BOOK_SERVICE": "/book_service",
        "CHECK_BOOKING": "/check_booking",
        "FILE_APPEAL": "/file_appeal",
        "CHECK_APPEAL": "/check_appeal",
        "REQUEST_HUMAN": "/request_human",
    }
    for offset, (key, intent) in enumerate(expected.items()):
        result = fake.push_event(url, OPENID, "CLICK", event_key=key, create_time=100 + offset)
        assert result.content == f"收到：{intent}"
    assert fake.push_event(url, OPENID, "CLICK", event_key="NO_SUCH_KEY", create_time=200).content == "收到：/help"
    turns_before = bot.turns
    for event, create_time in (("unsubscribe", 300), ("VIEW", 301), ("LOCATION", 302)):
        result = fake.push_event(url, OPENID, event, event_key="https://example.org", create_time=create_time)
        assert result.status == 200 and result.reply is None and result.raw == b"success"
    assert bot.turns == turns_before


def test_voice_and_other_message_types(fake, serve):
    bot = EchoBot()
    server = serve(bot)
    url = server.webhook_url
    assert fake.push_voice(url, OPENID, "优待证怎么申请").content == "收到：优待证怎么申请"
    assert fake.push_voice(url, OPENID, None).content == VOICE_NOT_RECOGNISED
    assert fake.push_voice(url, OPENID, "").content == VOICE_NOT_RECOGNISED
    assert fake.push_image(url, OPENID).content == UNSUPPORTED_MESSAGE
    assert bot.texts == ["优待证怎么申请"]


def test_buttons_become_numbers_and_numbers_become_payloads(fake, serve):
    bot = ButtonsBot()
    server = serve(bot)
    greeting = fake.push_text(server.webhook_url, OPENID, "你好").content
    assert greeting == (
        "您好！我是平湖市退役军人事务局的服务助手。\n我可以帮您：\n回复数字：\n1 政策咨询\n2 预约代办\n3 反映诉求\n4 转人工"
    )
    assert fake.push_text(server.webhook_url, OPENID, "2").content == "意图：/book_service"
    # Options belong to one veteran; the previous answer had none, so "2" is just "2" now.
    assert fake.push_text(server.webhook_url, "oSomeoneElse", "2").content.startswith("您好")
    assert fake.push_text(server.webhook_url, OPENID, "2").content.startswith("您好")


def test_bot_errors_become_a_polite_apology(fake, serve, monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-85000000")
    server = serve(RaisingBot())
    content = fake.push_text(server.webhook_url, OPENID, "你好").content
    assert "抱歉" in content and "0573-85000000" in content
    assert "Traceback" not in content and "RuntimeError" not in content


def test_a_turn_without_any_reply_still_answers_the_veteran(fake, serve):
    content = fake.push_text(serve(SilentBot()).webhook_url, OPENID, "优待证怎么办").content
    assert "抱歉" in content


def test_long_answer_is_split_into_passive_reply_and_customer_service_parts(fake, serve):
    paragraph = "退役军人优待证由户籍所在地退役军人事务部门受理，本人持身份证和退役证件申请。"
    long_answer = "\n".join(f"{i}. {paragraph}" for i in range(1, 80))
    server = serve(EchoBot(answer=lambda text: long_answer))
    result = fake.push_text(server.webhook_url, OPENID, "优待证", mode="safe")
    passive = result.content
    assert len(passive.encode("utf-8")) <= 2048
    assert fake.wait_for(lambda: len(fake.custom_messages) >= 1, timeout=10)
    server.wait_idle()
    parts = [passive] + [m["text"]["content"] for m in fake.custom_messages]
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    assert all(m["touser"] == OPENID for m in fake.custom_messages)
    assert "\n".join(parts) == long_answer  # cut on line boundaries only, nothing lost
    # Chinese went over the wire as UTF-8, not \\u escapes (WeChat would show those literally).
    raw = fake.requests_to("/cgi-bin/message/custom/send")[0].body
    assert "退役军人".encode() in raw and b"\\u" not in raw


def test_empty_token_answers_503(fake, serve):
    server = serve(EchoBot(), token="")
    assert fake.verify_url(server.webhook_url)[0] == 503
    assert fake.push_text(server.webhook_url, OPENID, "你好", tries=1).status == 503


def test_safe_mode_message_without_an_aes_key_answers_503(fake, serve):
    bot = EchoBot()
    server = serve(bot, encoding_aes_key="")
    assert fake.push_text(server.webhook_url, OPENID, "你好", mode="safe", tries=1).status == 503
    assert fake.push_text(server.webhook_url, OPENID, "你好", mode="plain").content == "收到：你好"
    assert bot.turns == 1


def test_credentials_yml_with_empty_variables_loads_and_answers_503(monkeypatch):
    """The Makefile exports the WECHAT_* variables empty: Rasa must still start."""
    from rasa.shared.utils.io import read_config_file

    for name in ("WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY", "WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_API_BASE_URL"):
        monkeypatch.setenv(name, "")
    credentials = read_config_file(str(REPO / "credentials.yml"))
    section = credentials["wechat_adapter.channel.WeChatInput"]
    channel = WeChatInput.from_credentials(section)
    assert channel.name() == "wechat"
    assert not channel.settings.configured
    assert channel.settings.api_base_url == "https://api.weixin.qq.com"
    server = RunningServer(channel, EchoBot()).start()
    try:
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(urllib.request.Request(server.webhook_url, data=b"<xml/>"), timeout=5)
        assert error.value.code == 503
    finally:
        server.stop()


def test_credentials_yml_passes_environment_to_the_channel(monkeypatch):
    from rasa.shared.utils.io import read_config_file

    monkeypatch.setenv("WECHAT_TOKEN", "t0ken")
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", "")
    monkeypatch.setenv("WECHAT_APP_ID", "wxabc")
    monkeypatch.setenv("WECHAT_APP_SECRET", "s3cret")
    monkeypatch.setenv("WECHAT_API_BASE_URL", "http://127.0.0.1:9/")
    section = read_config_file(str(REPO / "credentials.yml"))["wechat_adapter.channel.WeChatInput"]
    channel = WeChatInput.from_credentials(section)
    settings = channel.settings
    assert (settings.token, settings.app_id, settings.app_secret) == ("t0ken", "wxabc", "s3cret")
    assert settings.api_base_url == "http://127.0.0.1:9"
    # The token from the environment is the one the running channel verifies WeChat with.
    server = RunningServer(channel, EchoBot()).start()
    try:
        assert FakeWeChat("t0ken", make_aes_key(), "wxabc").verify_url(server.webhook_url, "e1") == (200, "e1")
        assert FakeWeChat(TOKEN, make_aes_key(), "wxabc").verify_url(server.webhook_url)[0] == 403
    finally:
        server.stop()


def test_mounted_in_rasas_own_server_app(fake):
    """Rasa loads the class named in credentials.yml and mounts it like any channel."""
    from rasa.core.run import _create_single_channel, configure_app

    from tests.wechat.conftest import make_settings

    settings = make_settings(fake)
    channel = _create_single_channel(
        "wechat_adapter.channel.WeChatInput",
        {
            "token": settings.token,
            "encoding_aes_key": settings.encoding_aes_key,
            "app_id": settings.app_id,
            "app_secret": settings.app_secret,
            "api_base_url": settings.api_base_url,
        },
    )
    assert isinstance(channel, WeChatInput)
    bot = EchoBot()

    class Agent:  # what rasa.core.channels.channel.register calls: app.ctx.agent.handle_message
        async def handle_message(self, message):
            return await bot(message)

    app = configure_app([channel], enable_api=True, auth_token="secret-token", route="/webhooks/")
    app.ctx.agent = Agent()
    server = RunningServer(channel, app=app).start()
    try:
        result = fake.push_text(f"{server.base_url}/webhooks/wechat/webhook", OPENID, "你好", mode="safe")
        assert result.content == "收到：你好" and result.encrypted
    finally:
        server.stop()
