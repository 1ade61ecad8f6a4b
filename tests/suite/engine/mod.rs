mod breaker;
mod faults;
mod run;
mod store;
