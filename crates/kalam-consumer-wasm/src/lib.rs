//! WebAssembly bindings of the KalamDB topic consumer.
