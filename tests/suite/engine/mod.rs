mod breaker;
mod faults;
mod limits;
mod run;
mod store;
