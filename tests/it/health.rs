//! Tests for the health domain (issues 5 and 6).
