"""Multi-step dialogs as aiogram Scenes."""
