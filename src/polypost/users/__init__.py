"""The signed-in person: `/v1/users/me` and the credential dependencies for people."""
