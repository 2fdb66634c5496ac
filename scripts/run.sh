#!/usr/bin/env bash
# Start every process of the Procfile under `vetbot supervise` (vetbot/supervise.py): one that crashes is
# restarted with backoff and the reason logged, the others keep running; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

# Defaults for every variable come from the Makefile (`make run`).
: "${VETBOT_DATA_DIR:?run me through make run}" "${RASA_PORT:?}" "${ACTIONS_PORT:?}" "${ACTION_ENDPOINT_URL:?}" "${CONSOLE_PORT:?}"

# The HTTP API needs a token: use RASA_API_TOKEN, or make one once and keep it in the data dir.
if [ -z "${RASA_API_TOKEN:-}" ]; then
    token_file="$VETBOT_DATA_DIR/rasa_api_token"
    [ -s "$token_file" ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_hex(24))' > "$token_file")
    RASA_API_TOKEN="$(cat "$token_file")"
    echo "RASA_API_TOKEN 未设置，使用 $token_file 里的令牌"
fi
export RASA_API_TOKEN

cat <<MSG
平湖退役军人服务助手 正在启动（首次加载模型约需半分钟）：
  REST      POST http://localhost:$RASA_PORT/webhooks/rest/webhook   {"sender": "…", "message": "你好"}
  socket.io http://localhost:$RASA_PORT/socket.io
  WeChat    http://localhost:$RASA_PORT/webhooks/wechat/webhook
  HTTP API  http://localhost:$RASA_PORT/status?token=…   (RASA_API_TOKEN)
  Actions   http://localhost:$ACTIONS_PORT/health
  控制台    http://localhost:$CONSOLE_PORT/   （接线员登录；账号用 vetbot users add 建）
  网页聊天  http://localhost:$CONSOLE_PORT/chat
  Jobs      预约提醒、诉求催办每分钟排一次（vetbot jobs）
按 Ctrl-C 停止。
MSG
exec .venv/bin/vetbot supervise --procfile Procfile
