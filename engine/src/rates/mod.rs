//! Exchange rates: the ECB's reference-rate files (`ecb`), how an amount is converted and
//! rounded (`conversion`), and the `rates` table with the rate a transaction gets (`store`).
//! Loading files and applying new rates to stored transactions is `crate::exchange`.

pub mod conversion;
pub mod ecb;
pub mod store;
