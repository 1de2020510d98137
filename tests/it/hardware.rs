//! Tests for the hardware domain (issues 5 and 6).
