//! The published `Meter` suite (`keygate_core::testing::meter`) on `MemoryMeter`. Run with
//! `--features testing`.
#![cfg(feature = "testing")]

keygate_core::meter_suite!(memory, async { keygate_core::MemoryMeter::new() });
