"""Drive form actions turn by turn the way Rasa's form loop drives them: validate the message,
then ask for the first empty required slot (with its custom ask action, if the test names one).
No Rasa server; the actions talk to whatever database the test set up."""
from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"


def required_slots(domain_file: str, form: str) -> list[str]:
    domain = yaml.safe_load((DOMAIN_DIR / domain_file).read_text())
    return domain["forms"][form]["required_slots"]


class Chat:
    """One veteran's conversation through one form: slots kept between turns, replies collected."""

    def __init__(self, domain_file: str, form: str, validator, askers: dict, slots: dict | None = None,
                 sender: str = "v1"):
        self.form, self.validator, self.askers, self.sender = form, validator, askers, sender
        self.required = required_slots(domain_file, form)
        self.slots: dict = dict(slots or {})
        self.requested: str | None = None
        self.replies: list[dict] = []

    def tracker(self, text: str, intent: str, confidence: float = 1.0) -> Tracker:
        return Tracker(self.sender, self.slots | {"requested_slot": self.requested},
                       {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []},
                       [{"event": "user", "text": text, "input_channel": "rest"}], False, None,
                       {"name": self.form}, "action_listen")

    def run(self, action, text: str = "", intent: str = "inform", confidence: float = 1.0) -> list[dict]:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(action().run(dispatcher, self.tracker(text, intent, confidence), {}))
        self.replies = dispatcher.messages
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        return events

    def say(self, text: str, intent: str = "inform", confidence: float = 1.0) -> bool:
        """One turn; False when the form lets go of the message (the rules answer it)."""
        if not self.run(self.validator, text, intent, confidence) and self.requested is not None:
            return False
        told = self.replies
        self.requested = next((s for s in self.required if self.slots.get(s) is None), None)
        if self.requested in self.askers:
            self.run(self.askers[self.requested])
            told = told + self.replies
        self.replies = told
        return True

    @property
    def text(self) -> str:
        return "\n".join(m.get("text") or "" for m in self.replies)
