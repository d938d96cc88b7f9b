"""Offline stand-in for the Telegram Bot API, a web chat on top of it and a test harness.

- `demo.standin.BotApiStandIn`: speaks the Bot API over HTTP so an unchanged aiogram bot
  can run against it (demo, end-to-end tests, delivery benchmarks).
- `demo.webchat.WebChat`: a phone-messenger-like page to play residents and grid staff.
- `demo.harness.ChatUser`: simulated users for tests that read like a chat.
"""
