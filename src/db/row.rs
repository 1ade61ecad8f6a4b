//! Reading a column the same way from either driver's row. Each driver decodes into its own
//! native types; this trait names the handful Easel's tables use, so a row-to-struct
//! function is written once for SQLite and PostgreSQL. Flags are `bool` on both: SQLite
//! stores them as 0/1 integers and its driver reads those as `bool`; PostgreSQL has
//! `BOOLEAN` columns.

use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

pub(super) trait Cols {
    fn int(&self, col: &str) -> i64;
    fn opt_int(&self, col: &str) -> Option<i64>;
    fn text(&self, col: &str) -> String;
    fn opt_text(&self, col: &str) -> Option<String>;
    fn flag(&self, col: &str) -> bool;
}

macro_rules! cols_for {
    ($row:ty) => {
        impl Cols for $row {
            fn int(&self, col: &str) -> i64 {
                self.get(col)
            }
            fn opt_int(&self, col: &str) -> Option<i64> {
                self.get(col)
            }
            fn text(&self, col: &str) -> String {
                self.get(col)
            }
            fn opt_text(&self, col: &str) -> Option<String> {
                self.get(col)
            }
            fn flag(&self, col: &str) -> bool {
                self.get(col)
            }
        }
    };
}

cols_for!(SqliteRow);
cols_for!(PgRow);
