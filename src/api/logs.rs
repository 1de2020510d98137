//! Placeholder: the logs API (issues 5 and 6).

use super::Routes;

pub fn routes() -> Routes {
    Routes::new()
}
