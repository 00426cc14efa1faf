"""tinyml host tools: convert/inspect models (cli), board profiles, flashing and the board link."""
