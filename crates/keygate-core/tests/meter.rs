//! The published `Meter` suite (`keygate_core::testing::meter`) against `MemoryMeter`.
//! (keygate-sqlx runs it against `SqlMeter` on SQLite and Postgres.)

keygate_core::meter_suite!(memory, async { keygate_core::MemoryMeter::new() });
