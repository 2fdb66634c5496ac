"""Sending an answer through the customer-service API, falling back to the outbox."""
from __future__ import annotations

import asyncio
import logging

from wechat_adapter.api import CUSTOMER_SERVICE_QUOTA, OUTSIDE_48H_WINDOW, WeChatAPI, WeChatAPIError
from wechat_adapter.outbox import Outbox

logger = logging.getLogger(__name__)

REPLY_KIND = "reply"


class CustomerServiceCourier:
    def __init__(self, api: WeChatAPI, outbox: Outbox) -> None:
        self.api = api
        self.outbox = outbox

    async def send(self, openid: str, parts: list[str]) -> bool:
        """Send the parts in order; whatever cannot be sent now goes to the outbox.

        45015 (outside the 48-hour window) and 45047 (quota) cannot succeed by retrying the
        customer-service API, so those messages are queued for a template message (or staff).
        """
        for index, part in enumerate(parts):
            try:
                await self.api.send_text(openid, part)
            except WeChatAPIError as error:
                rest = "\n".join(parts[index:])
                window_closed = error.errcode in (OUTSIDE_48H_WINDOW, CUSTOMER_SERVICE_QUOTA)
                via = "template" if window_closed else "auto"
                outbox_id = await asyncio.to_thread(self.outbox.enqueue, openid, rest, REPLY_KIND, None, via)
                logger.warning(
                    "Customer-service message to %s failed (%s); queued as outbox #%s via %s",
                    openid, error.errcode, outbox_id, via,
                )
                return False
        return True
