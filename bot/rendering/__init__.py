"""How a notification becomes a message.

Core services put a `core.notifications.Notification` (a kind and a plain payload) in the outbox; the
delivery worker (scheduler/delivery.py) asks `notifications.NotificationRenderer` for each row what to
send, in the reader's language:

    notifications.py   the entry: picks the renderer by kind, words `*_at` moments, broadcast progress
    cases.py           case notifications: texts, the case's buttons, the three-photo card, its history
    volunteering.py    volunteering notifications: fields in the reader's language, the buttons they carry

Texts come from texts/ (zh first); buttons from the handlers that answer their presses.
"""
