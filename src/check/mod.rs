//! The outcome checker (DESIGN.md section 4).
