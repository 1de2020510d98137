//! Tests for the ups domain (issues 5 and 6).
