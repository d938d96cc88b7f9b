"""What the numbers in a WeChat reply mean, shared by the conversation (which answers them) and the
renderer (whose notifications offer them): WeChat's passive replies and customer-service texts have no
buttons, so every choice is a numbered line, "1. ✅ 受理", and the reply is the number.

The Official Account's custom menu (set on the WeChat console or by the menu API) sends CLICK events
with these keys; the same words typed as text do the same (so WeCom, whose app menu is configured
apart, and people who type work too).
"""

from __future__ import annotations

import re

from texts import CATALOGS, Translator

# Custom-menu CLICK keys (EventKey) → what they open. Official Account (residents, party members):
MP_MENU = {"REPORT": "随手拍", "MY_REPORTS": "我的上报", "ORDER": "我要点单", "POSTS": "志愿任务", "POINTS": "我的积分"}
# WeCom app (grid members, staff):
WORK_MENU = {"MY_CASES": "我的问题", "DESK": "工作台", "POSTS": "志愿任务", "POINTS": "我的积分"}
MENU_KEYS = {**MP_MENU, **WORK_MENU}

# Words typed as text (lower-cased, spaces removed) → the entry they open.
WORDS = {
    "随手拍": "REPORT", "上报": "REPORT", "report": "REPORT",
    "我的上报": "MY_REPORTS", "myreports": "MY_REPORTS", "my": "MY_REPORTS",
    "我的问题": "MY_CASES", "待办": "MY_CASES", "mycases": "MY_CASES", "cases": "MY_CASES",
    "工作台": "DESK", "desk": "DESK",
    "志愿任务": "POSTS", "岗位": "POSTS", "posts": "POSTS", "tasks": "POSTS",
    "我的积分": "POINTS", "积分": "POINTS", "points": "POINTS",
    "我要点单": "ORDER", "点单": "ORDER", "order": "ORDER",
    "登记": "REGISTER", "register": "REGISTER", "start": "REGISTER",
    "帮助": "HELP", "菜单": "HELP", "help": "HELP", "?": "HELP", "？": "HELP",
    "取消": "CANCEL", "cancel": "CANCEL", "0": "CANCEL", "０": "CANCEL",
    "english": "LANG_EN", "中文": "LANG_ZH", "chinese": "LANG_ZH",
    "隐私": "PRIVACY", "个人信息": "PRIVACY", "privacy": "PRIVACY",
    "我的信息": "MYDATA", "mydata": "MYDATA", "删除我的信息": "FORGET", "forget": "FORGET",
}

# A question a case asks (core.cases_services.question_on) and the answers it takes, in order.
QUESTION_OPTIONS: dict[str, list[tuple[str, str]]] = {
    "outcome": [("fixed", "case.btn.fixed"), ("notfixed", "case.btn.not_fixed")],
    "feedback": [("fixed", "case.btn.fixed"), ("notfixed", "case.btn.not_fixed")],
    "accept": [("accept", "case.btn.accept"), ("not_mine", "case.btn.not_mine")],
    "claim": [("claim", "case.btn.claim")],
    "reopen": [("reopen", "case.btn.reopen")],
}
# What a handler may do with a case, each offered only when core's check allows it (core.cases.CHECKS).
HANDLER_OPTIONS = [("accept", "case.btn.accept"), ("claim", "case.btn.claim"), ("during", "case.btn.during"),
                   ("resolve", "case.btn.resolve"), ("not_mine", "case.btn.not_mine")]


def word_of(text: str) -> str | None:
    """The entry a typed text names, if it is one of `WORDS`."""
    return WORDS.get("".join(text.split()).lower())


def numbered(tr: Translator, labels: list[str]) -> str:
    """ "1. …\\n2. …\\n请回复数字选择；回复 0 取消。" """
    lines = [tr("wechat.menu.line", n=i, label=label) for i, label in enumerate(labels, start=1)]
    return "\n".join([*lines, tr("wechat.menu.hint")])


# The preferred times a resident picks for an order (the words Telegram's order dialog offers too).
ORDER_TIMES = ("soon", "weekday", "weekend")

_COMMAND = re.compile(r"/[a-z_]+")


def for_wechat(text: str, tr: Translator) -> str:
    """Telegram's commands in a shared text ("发送 /tasks") as the words WeChat understands ("「志愿任务」");
    a command WeChat has no word for stays as it is."""
    def word(found: re.Match[str]) -> str:
        key = f"wechat.word.{found.group(0)}"
        return tr(key) if key in CATALOGS["zh"] else found.group(0)

    return _COMMAND.sub(word, text)
