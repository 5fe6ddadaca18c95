"""The user's own files as named datasets: a text corpus, labeled text, parallel text."""
