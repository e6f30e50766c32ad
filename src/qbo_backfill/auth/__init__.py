"""Authorization: Intuit's token endpoint, the encrypted token store, `auth login`."""
