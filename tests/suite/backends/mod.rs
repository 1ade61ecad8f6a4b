mod a1111;
mod comfyui;
mod image_download;
mod imagineapi;
mod mj_proxy;
mod openai;
mod openjourney;
mod opj;
