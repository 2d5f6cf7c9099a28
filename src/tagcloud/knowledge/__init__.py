"""Marketing knowledge: the quick-point wiki and the customer–service–channel matching library."""
