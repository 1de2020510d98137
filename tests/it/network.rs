//! Tests for the network domain (issues 5 and 6).
