//! The published `Meter` suite (`keygate_core::testing::meter`) against `MemoryMeter`.
//! (keygate-sqlx runs it against `SqlMeter` on SQLite and Postgres.)

keygate_core::meter_suite!(memory, async { keygate_core::MemoryMeter::new() });

// The meter model (`keygate_core::testing::meter::model`): random sequences of requests,
// settlements, top-ups and clock moves against a model of the meter.
keygate_core::meter_model!(memory_model, async { keygate_core::MemoryMeter::new() });

// Two instances sharing one in-process meter: the shared-meter suite's baseline.
keygate_core::shared_meter_suite!(memory_pair, async {
    let meter = keygate_core::MemoryMeter::new();
    (meter.clone(), meter)
});
