"""The WeChat channel: a WeChat Official Account (公众号, residents and party members) and a WeCom
self-built app (企业微信, grid members and staff), beside Telegram on the same database.

Like bot/, a channel: it parses what WeChat sends, calls one core command or query, and renders
the answer; it decides nothing. It must not import bot/ (aiogram) — it shares texts/ and core/.
"""
