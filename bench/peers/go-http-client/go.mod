module corio-go-http-client

go 1.19
