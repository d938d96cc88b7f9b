"""The composition root: settings, the command line and the wiring of bot, core, storage and scheduler."""
