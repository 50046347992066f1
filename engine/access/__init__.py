"""Access: the people who sign in to the designer and the host systems' API tokens."""
