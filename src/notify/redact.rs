//! Redaction before a cloud AI provider sees a text. To be built.
