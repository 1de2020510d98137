//! Tests for the logs domain (issues 5 and 6).
