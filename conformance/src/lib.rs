//! The ferrocom conformance suite: numbered cases tied to spec clauses, run against
//! ferrocom or any other implementation, with reports.
//!
//! Not written yet (its issue builds it on the engines of `ferrocom-runtime`). The
//! clause ids it will use are already carried by the generated codecs: see the `CLAUSES`
//! table of each module of `ferrocom-wire` and the `clause` of every decode error.
