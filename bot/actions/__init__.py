"""Custom actions of the assistant (run by `rasa run actions --actions bot.actions`)."""
from vetbot.redaction import install_log_redaction

install_log_redaction()  # the action server logs what veterans type: never an ID or phone in clear
