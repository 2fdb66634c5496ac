"""代办 booking: the domain package (catalogue, calendar, storage models, service).
No Rasa or HTTP imports here: the dialogue, the console and the CLI call the same functions."""
