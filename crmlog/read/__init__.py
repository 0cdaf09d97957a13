"""Read: Maildir folders and mbox files to raw messages, their header blocks first, and only
what is new since the last run (ONCE-2); caps on the raw bytes before anything parses them."""
