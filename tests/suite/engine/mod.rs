mod breaker;
mod copy;
mod faults;
mod limits;
mod retention;
mod run;
mod store;
