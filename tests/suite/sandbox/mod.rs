mod control;
mod limits;
mod openapi;
mod protocol;
mod ratelimit;
mod serenity;
