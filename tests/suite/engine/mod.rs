mod breaker;
mod copy;
mod faults;
mod limits;
mod run;
mod store;
