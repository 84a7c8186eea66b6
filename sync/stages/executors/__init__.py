"""One executor per action kind; each turns claimed intents into outcomes."""
