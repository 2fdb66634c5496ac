"""Every domain's tables, registered on Base.metadata (for the migrations and their checks)."""
import appeals.models  # noqa: F401
import booking.models  # noqa: F401
import console.models  # noqa: F401
import knowledge.gaps  # noqa: F401
import vetbot.staff_tasks  # noqa: F401
import wechat_adapter.models  # noqa: F401
