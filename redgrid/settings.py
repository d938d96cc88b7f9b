"""Every setting of redgrid, typed and documented in one place.

Values come from the environment and from a `.env` file in the working directory
(`.env.example` lists them all). Nothing else in the code reads `os.environ`.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API_URL = "https://api.telegram.org"
WECHAT_API_URL = "https://api.weixin.qq.com"
WECOM_API_URL = "https://qyapi.weixin.qq.com"


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: str = Field(
        default="",
        description="Token from @BotFather. Empty: `redgrid run` explains how to get one.",
    )
    bot_username: str = Field(
        default="",
        description="The bot's @username without @, for invite links when the bot API is not reachable.",
    )
    bot_api_url: str = Field(
        default=TELEGRAM_API_URL,
        description="Bot API server: Telegram's, your own telegram-bot-api server, or the demo stand-in.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///data/redgrid.sqlite3",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db.",
    )
    redis_url: str = Field(
        default="",
        description="redis://host:port/db for dialog state shared by several bot processes; empty = in memory.",
    )
    data_dir: Path = Field(default=Path("data"), description="Where photos and exports are kept.")
    timezone: str = Field(default="Asia/Shanghai", description="The community's clock.")
    privacy_notice_version: int = Field(
        default=1, ge=1, le=10_000,
        description="The personal information notice people agree to; raise it when the notice changes "
                    "(its text, or a figure it names) and everyone is asked again at their next message.",
    )
    default_language: str = Field(default="zh", description="zh or en, for users whose client says neither.")
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 90, description="How long an invite link works.")
    invite_max_uses: int = Field(default=1, ge=1, le=10_000, description="How many people one invite admits.")
    page_size: int = Field(default=8, ge=3, le=30, description="Buttons per page in pick lists.")
    nearest_building_max_m: int = Field(
        default=1000, ge=50, le=20_000,
        description="A shared location farther than this from every building is not matched.",
    )
    report_working_days: int = Field(default=2, ge=1, le=30,
                                     description="Working days a grid member has to fix a report (两个工作日).")
    confirm_wait_days: int = Field(default=3, ge=1, le=30,
                                   description="Days a resident has to confirm a fix before it closes as accepted.")
    reopen_within_days: int = Field(default=7, ge=0, le=60,
                                    description="Days a reporter may send a case closed by their silence back for "
                                                "rework (0: never).")
    claim_within_hours: int = Field(default=24, ge=1, le=24 * 14,
                                    description="Hours a department has to claim an escalated case.")
    escalated_fix_working_days: int = Field(default=5, ge=1, le=60,
                                            description="Working days a department has to fix an escalated case.")
    report_points: str = Field(
        default="default=2",
        description="Points a resident earns for a report confirmed fixed, per category: "
                    "`default=2,lights=3,noise=0` (categories left out get `default`).",
    )
    withdraw_cutoff_hours: float = Field(default=3, ge=0, le=72,
                                         description="A party member may give up a place until this long before start.")
    no_show_limit: int = Field(default=2, ge=1, le=20,
                               description="No-shows in a community before the member cannot claim there any more.")
    quiet_hours: str = Field(default="22:00-07:00",
                             description="No announcements or reminders in this window (HH:MM-HH:MM; equal: none).")
    theme_create_day: int = Field(default=14, ge=1, le=27,
                                  description="Day of the month the theme day's posts are made from the templates.")
    theme_announce_day: int = Field(default=21, ge=1, le=27,
                                    description="Day of the month the theme day is announced to party members.")
    theme_remind_day: int = Field(default=27, ge=1, le=27,
                                  description="Day of the month members holding a theme-day place are reminded.")
    delivery_per_second: float = Field(default=30, gt=0, le=1000,
                                       description="Messages the bot sends on its own per second (Telegram: ~30).")
    delivery_per_chat_per_second: float = Field(default=1, gt=0, le=100,
                                                description="Messages per second to one chat (Telegram: ~1).")
    # ---- the WeChat channel (wechat/): empty = not used
    wechat_mp_appid: str = Field(default="", description="The Official Account's AppID (开发者ID).")
    wechat_mp_secret: str = Field(default="", description="The Official Account's AppSecret (开发者密码).")
    wechat_mp_token: str = Field(default="", description="Token (令牌) as set on the Official Account's server page.")
    wechat_mp_aes_key: str = Field(default="", description="EncodingAESKey (43 characters); set: safe mode only.")
    wechat_mp_notice_template_id: str = Field(
        default="", description="Template for 'you have N new messages' outside the 48-hour window; empty: none.")
    wechat_mp_notice_kind: str = Field(
        default="subscribe", description="subscribe (one-time subscription, one send each) or template.")
    wechat_mp_notice_field: str = Field(default="thing1", description="The template's field that holds the notice.")
    wecom_corp_id: str = Field(default="", description="WeCom CorpID (企业ID).")
    wecom_agent_id: int = Field(default=0, ge=0, description="WeCom self-built app's AgentId.")
    wecom_secret: str = Field(default="", description="WeCom self-built app's Secret.")
    wecom_token: str = Field(default="", description="Token of the app's API receiving page (接收消息).")
    wecom_aes_key: str = Field(default="", description="EncodingAESKey of that page (43 characters).")
    wechat_api_url: str = Field(default=WECHAT_API_URL, description="The Official Account API (or a stand-in).")
    wecom_api_url: str = Field(default=WECOM_API_URL, description="The WeCom API (or a stand-in).")
    web_host: str = Field(default="127.0.0.1", description="Where `redgrid run` serves the WeChat callbacks.")
    web_port: int = Field(default=8080, ge=1, le=65535, description="Port of the WeChat callbacks.")
    photo_retention_days: int = Field(default=365, ge=1, le=3650,
                                      description="Photos of a finished case are deleted this many days after it closed.")
    dialog_keep_days: int = Field(default=3, ge=1, le=90,
                                  description="An unfinished dialog (and photos sent into it, never reported) is "
                                              "forgotten after this many days.")
    inbox_keep_days: int = Field(default=7, ge=1, le=90,
                                 description="Days the raw updates (what people wrote) are kept after handling.")
    outbox_keep_days: int = Field(default=7, ge=1, le=90,
                                  description="Days sent, failed or skipped notifications are kept.")
    reports_per_hour: int = Field(default=5, ge=1, le=1000, description="Reports one person may make in an hour.")
    reports_per_day: int = Field(default=20, ge=1, le=10_000, description="Reports one person may make in 24 hours.")
    orders_per_day: int = Field(default=5, ge=1, le=1000, description="Service orders one person may make in 24 hours.")
    messages_per_minute: int = Field(default=30, ge=5, le=10_000,
                                     description="Messages and presses one person may send the bot in a minute "
                                                 "(an album counts one per photo).")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    dashboard_enabled: bool = Field(default=True, description="Serve the community dashboard (web) beside the bot.")
    dashboard_url: str = Field(default="http://127.0.0.1:8081",
                               description="Where people open the dashboard: the start of the one-time sign-in links.")
    dashboard_host: str = Field(default="127.0.0.1", description="The address the dashboard's web server listens on.")
    dashboard_port: int = Field(default=8081, ge=0, le=65535, description="Its port.")
    dashboard_secret: str = Field(default="", description="Signs the dashboard's session cookies; empty: a new one "
                                                          "at every start (everyone signs in again).")
    dashboard_session_hours: int = Field(default=10, ge=1, le=24,
                                         description="How long a dashboard session lasts (a working day).")
    open311_enabled: bool = Field(default=True, description="Serve Open311 GeoReport v2 at /open311/v2/ on the "
                                                            "dashboard's web server.")
    credit_grades: str = Field(default="A=0.95/4.5,B=0.85/4.0,C=0.70/3.0",
                               description="A property company's credit grade: the least on-time rate/mean rating "
                                           "for A, B and C; below C is D.")
    voice_max_bytes: int = Field(default=1024 * 1024, ge=64 * 1024, le=20 * 1024 * 1024,
                                 description="The largest voice note kept (bytes); 3 minutes of Telegram's Opus "
                                             "is about 720 KB.")

    # proof on the spot ("现场确认", issue #20)
    proof_radius_m: int = Field(default=150, ge=20, le=5000,
                                description="A grid member resolving a case, or a party member checking in, within "
                                            "this many metres of the building is on the spot (现场确认); farther or "
                                            "no location: done all the same, flagged to staff.")
    door_code_secret: str = Field(default="", description="Signs the QR codes on building doors (redgrid qr); "
                                                          "empty: derived from BOT_TOKEN (a new token then "
                                                          "makes the printed cards invalid).")

    # ---- `redgrid webhook` (several workers): Telegram pushes updates to WEBHOOK_URL on the web server
    webhook_url: str = Field(default="", description="The public HTTPS URL Telegram posts updates to (nginx in "
                                                     "front of the workers); its path is served on WEB_HOST:WEB_PORT.")
    webhook_secret: str = Field(default="", description="Telegram sends it with every update "
                                                        "(X-Telegram-Bot-Api-Secret-Token); 1-256 of A-Z a-z 0-9 _ -.")
    webhook_max_connections: int = Field(default=40, ge=1, le=100,
                                         description="Updates Telegram may have in flight at once (all workers).")
    log_format: str = Field(default="text", description="text, or json: one JSON object per line (ids, no "
                                                        "names, phones or message text).")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: str) -> str:
        import re

        if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        value = value.lower()
        if value not in ("text", "json"):
            raise ValueError("must be text or json")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in ("zh", "en"):
            raise ValueError("must be zh or en")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.split(":///", 1)[1]
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("bot_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("wechat_api_url", "wecom_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("wechat_mp_aes_key", "wecom_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        import base64
        import binascii

        if value:
            try:
                if len(value) != 43 or len(base64.b64decode(value + "=", validate=True)) != 32:
                    raise ValueError
            except (binascii.Error, ValueError):
                raise ValueError("an EncodingAESKey is 43 letters and digits, as the console generates it") from None
        return value

    @field_validator("wechat_mp_notice_kind")
    @classmethod
    def _notice_kind(cls, value: str) -> str:
        if value not in ("subscribe", "template"):
            raise ValueError("must be subscribe or template")
        return value

    @model_validator(mode="after")
    def _wechat_complete(self) -> "Settings":
        mp = {"WECHAT_MP_APPID": self.wechat_mp_appid, "WECHAT_MP_SECRET": self.wechat_mp_secret,
              "WECHAT_MP_TOKEN": self.wechat_mp_token}
        work = {"WECOM_CORP_ID": self.wecom_corp_id, "WECOM_AGENT_ID": self.wecom_agent_id,
                "WECOM_SECRET": self.wecom_secret, "WECOM_TOKEN": self.wecom_token, "WECOM_AES_KEY": self.wecom_aes_key}
        for group in (mp, work):
            missing = [name for name, value in group.items() if not value]
            if missing and len(missing) < len(group):
                raise ValueError(f"{', '.join(missing)} must be set too (or none of {', '.join(group)})")
        return self

    @property
    def wechat_mp_configured(self) -> bool:
        return bool(self.wechat_mp_appid)

    @property
    def wecom_configured(self) -> bool:
        return bool(self.wecom_corp_id)

    @field_validator("report_points")
    @classmethod
    def _points_table(cls, value: str) -> str:
        report_points_table(value)
        return value

    @field_validator("credit_grades")
    @classmethod
    def _credit_grades(cls, value: str) -> str:
        from core.companies import credit_rules

        credit_rules(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_window(cls, value: str) -> str:
        quiet_window(value)
        return value

    @model_validator(mode="after")
    def _theme_days_in_order(self) -> "Settings":
        if not self.theme_create_day <= self.theme_announce_day <= self.theme_remind_day:
            raise ValueError("theme_create_day <= theme_announce_day <= theme_remind_day is needed "
                             f"(got {self.theme_create_day}, {self.theme_announce_day}, {self.theme_remind_day})")
        return self

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def report_points_table(value: str) -> dict[str, int]:
    """"default=2,lights=3" → {"default": 2, "lights": 3}; a category must exist, points be 0–1000."""
    from core.cases import Category

    known = {c.value for c in Category} | {"default"}
    table: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, points = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in known:
            raise ValueError(f"{part!r}: write category=points, categories: {', '.join(sorted(known))}")
        try:
            table[name] = int(points)
        except ValueError:
            raise ValueError(f"{part!r}: points must be a whole number") from None
        if not 0 <= table[name] <= 1000:
            raise ValueError(f"{part!r}: points must be 0–1000")
    return table


def quiet_window(value: str) -> tuple[time, time]:
    """"22:00-07:00" → (22:00, 07:00)."""
    try:
        start, end = (time.fromisoformat(p.strip()) for p in value.split("-"))
    except ValueError:
        raise ValueError("write HH:MM-HH:MM, e.g. 22:00-07:00") from None
    return start, end


def load_settings(**overrides) -> Settings:
    """Settings from env/.env; a wrong value becomes one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule over several settings: their values (secrets among them) are not shown
            raise SettingsError(f"settings do not fit together: {message}") from None
        name = str(first["loc"][0]).upper()
        raise SettingsError(f"setting {name} is wrong: {message} (got {first.get('input')!r})") from None
