"""vetbot.settings: one typed place; defaults for one machine; a bad value named, not ignored."""
from __future__ import annotations

from pathlib import Path

import pytest

from vetbot.settings import DEFAULT_HOTLINE, SettingsError, settings


def test_defaults_for_one_machine():
    s = settings({})
    assert s.data_dir.name == "var" and s.database_url == f"sqlite:///{s.data_dir / 'vetbot.sqlite3'}"
    assert (s.redis_url, s.pii_key, s.hotline, s.ann_threshold, s.warm_up) == (None, None, DEFAULT_HOTLINE, 50000, False)
    assert (s.wechat_api_base_url, s.wechat_outbox_sender, s.wechat_templates) == ("https://api.weixin.qq.com", True, {})


def test_values_are_typed():
    s = settings({"VETBOT_DATA_DIR": "/srv/vetbot", "VETBOT_ANN_THRESHOLD": "1000", "VETBOT_KB_MIN_DENSE": "0.8",
                  "VETBOT_WARM_UP": "1", "WECHAT_OUTBOX_SENDER": "no", "WECHAT_API_BASE_URL": "http://fake/",
                  "WECHAT_TEMPLATE_NOTICE": "t1", "WECHAT_TEMPLATE_BOOKING_REMINDER": " t2 "})
    assert s.data_dir == Path("/srv/vetbot") and s.database_url == "sqlite:////srv/vetbot/vetbot.sqlite3"
    assert (s.ann_threshold, s.kb_min_dense, s.warm_up, s.wechat_outbox_sender) == (1000, 0.8, True, False)
    assert s.wechat_api_base_url == "http://fake"
    assert s.wechat_templates == {"notice": "t1", "booking_reminder": "t2"}


@pytest.mark.parametrize("name, value", [("VETBOT_ANN_THRESHOLD", "many"), ("VETBOT_TORCH_THREADS", "1.5"),
                                         ("WECHAT_DEDUPE_TTL", "ten minutes"), ("VETBOT_WARM_UP", "maybe")])
def test_a_bad_value_is_named(name, value):
    with pytest.raises(SettingsError, match=name):
        settings({name: value})


def test_the_rasa_token_comes_from_the_environment_or_the_file_run_sh_writes(tmp_path):
    env = {"VETBOT_DATA_DIR": str(tmp_path)}
    assert settings(env).rasa_api_token is None
    (tmp_path / "rasa_api_token").write_text("from-file\n")
    assert settings(env).rasa_api_token == "from-file"
    assert settings({**env, "RASA_API_TOKEN": "from-env"}).rasa_api_token == "from-env"
    assert settings({**env, "RASA_PORT": "5999"}).rasa_url == "http://127.0.0.1:5999"
    assert settings({**env, "VETBOT_RASA_URL": "http://rasa:5005/"}).rasa_url == "http://rasa:5005"
